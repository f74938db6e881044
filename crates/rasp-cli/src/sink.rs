//! `rasp sink --jsonl FILE`: sink calls judged offline by `rasp-guard`.
//!
//! One JSON object per line in, one per line out (format in
//! docs/sinks.md). A line that cannot be judged gets `{"id", "error"}` and
//! the run goes on.

use rasp_guard::{Dialect, Platform};
use serde_json::{Value, json};

/// The verdict line for one input line.
#[must_use]
pub fn judge_line(line: &str) -> Value {
    let record: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return json!({"id": Value::Null, "error": format!("not JSON: {e}")}),
    };
    let id = record.get("id").cloned().unwrap_or(Value::Null);
    match judge(&record) {
        Ok(None) => json!({"id": id, "verdict": "benign"}),
        Ok(Some((input, reason))) => {
            json!({"id": id, "verdict": "attack", "input": input, "reason": reason})
        }
        Err(e) => json!({"id": id, "error": e}),
    }
}

/// `Ok(Some((input, reason)))` for an attack, `Ok(None)` when benign.
fn judge(record: &Value) -> Result<Option<(String, &'static str)>, String> {
    let sink = record
        .get("sink")
        .and_then(Value::as_str)
        .ok_or("missing \"sink\"")?;
    let inputs: Vec<&str> = match record.get("inputs") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or("\"inputs\" must hold strings"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"inputs\" must be an array of strings".into()),
        None => Vec::new(),
    };
    let resource = record.get("resource").ok_or("missing \"resource\"")?;
    let text = || {
        resource
            .as_str()
            .ok_or_else(|| format!("\"resource\" must be a string for sink {sink:?}"))
    };
    let argv = || -> Result<Vec<&str>, String> {
        match resource {
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| "\"resource\" must hold strings".to_owned())
                })
                .collect(),
            Value::String(s) => Ok(vec![s.as_str()]),
            _ => Err("\"resource\" must be a string or an array of strings".into()),
        }
    };
    let platform = match record.get("platform").and_then(Value::as_str) {
        None => Platform::Unix,
        Some(p) => Platform::from_name(p).ok_or_else(|| format!("unknown platform {p:?}"))?,
    };
    let result = match sink {
        "sql" => {
            let dialect = match record.get("dialect").and_then(Value::as_str) {
                None => Dialect::Generic,
                Some(d) => Dialect::from_name(d).ok_or_else(|| format!("unknown dialect {d:?}"))?,
            };
            rasp_guard::sql(text()?, dialect, &inputs)
        }
        "path" => rasp_guard::path(text()?, platform, &inputs),
        "url" => rasp_guard::url(text()?, &inputs),
        "shell" => match resource {
            // an argv for a shell: its script is the argument of `-c`
            Value::Array(_) => rasp_guard::exec(&argv()?, &inputs),
            _ => rasp_guard::shell(text()?, &inputs),
        },
        "exec" => rasp_guard::exec(&argv()?, &inputs),
        other => return Err(format!("unknown sink {other:?}")),
    };
    Ok(result
        .err()
        .map(|inj| (inputs[inj.input].to_owned(), inj.reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_verdicts_out() {
        let v = judge_line(
            r#"{"id":"a","sink":"sql","dialect":"mysql","resource":"SELECT * FROM t WHERE a = '' OR 1=1 -- '","inputs":["' OR 1=1 -- "]}"#,
        );
        assert_eq!(v["verdict"], "attack");
        assert_eq!(v["input"], "' OR 1=1 -- ");
        let v = judge_line(
            r#"{"id":2,"sink":"exec","resource":["ping","-c","1","x; id"],"inputs":["x; id"]}"#,
        );
        assert_eq!(v, json!({"id": 2, "verdict": "benign"}));
        let v = judge_line(
            r#"{"id":"c","sink":"shell","resource":["sh","-c","ping x; id"],"inputs":["x; id"]}"#,
        );
        assert_eq!(v["verdict"], "attack");
        let v = judge_line(
            r#"{"id":"d","sink":"path","platform":"windows","resource":"C:\\data\\..\\..\\x","inputs":["..\\..\\x"]}"#,
        );
        assert_eq!(v["verdict"], "attack");
        let v = judge_line(r#"{"id":"e","sink":"nosql","resource":"x","inputs":[]}"#);
        assert_eq!(v, json!({"id": "e", "error": "unknown sink \"nosql\""}));
        let v = judge_line("{not json");
        assert!(v["error"].as_str().unwrap().starts_with("not JSON"));
        let v = judge_line(r#"{"id":"f","sink":"sql","resource":"x","inputs":[1]}"#);
        assert_eq!(v["error"], "\"inputs\" must hold strings");
    }
}
