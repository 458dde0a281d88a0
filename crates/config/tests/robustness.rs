//! Property tests: no input makes the parser, the options layer or the flag parser panic, and
//! any tree written out in the dialect reads back as the same tree.

use natrium_config::conf::parse_str_with_env;
use natrium_config::{parse_args, Options, Spanned, Value};
use proptest::prelude::*;

fn no_env(_: &str) -> Option<String> {
    None
}

/// Bits of real configurations, so random text often gets deep into the grammar.
const FRAGMENTS: &[&str] = &[
    "port",
    "listen",
    "jetstream",
    "authorization",
    "users",
    "permissions",
    "publish",
    "include",
    " ",
    "\t",
    "\n",
    "\r\n",
    ":",
    "=",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    "#",
    "//",
    "/",
    "\"",
    "'",
    "\\",
    "\\x4",
    "(",
    ")\n",
    "\n)\n",
    "$",
    "$x",
    "x",
    "1",
    "-",
    ".",
    "2m",
    "64MiB",
    "1.5",
    "1.2.3.4:5",
    "2020-01-02T03:04:05Z",
    "true",
    "nats://h:1",
    "{\"port\": 1}",
    "\u{a0}",
    "é",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|v| v.concat())
}

fn parse_and_load(text: &str) {
    if let Ok(root) = parse_str_with_env(text, &no_env) {
        let _ = Options::from_value(&root);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_and_load(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_like_text_never_panics(text in soup()) {
        parse_and_load(&text);
    }

    #[test]
    fn random_arguments_never_panic(list in prop::collection::vec(
        prop::sample::select(&["-p", "-1", "--js", "-DV", "-c", "-t", "--", "x", "-sl", "a=b",
            "--routes", "--cluster", "-=", "---", "-h=x", "0x", "--tls", "-T=false", "version"][..]),
        0..8,
    )) {
        let _ = parse_args(list.into_iter().map(String::from));
    }

    #[test]
    fn written_trees_read_back(entries in prop::collection::vec((key(), value(3)), 0..6)) {
        let mut text = String::new();
        let mut want: Vec<(String, Value)> = Vec::new();
        for (k, v) in entries {
            text.push_str(&format!("\"{k}\": {}\n", write(&v)));
            match want.iter_mut().find(|(wk, _)| *wk == k) {
                Some(slot) => slot.1 = v,
                None => want.push((k, v)),
            }
        }
        let root = parse_str_with_env(&text, &no_env).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(strip(&root), Value::Map(want.into_iter().map(|(k, v)| (k, bare(v))).collect()));
    }
}

fn key() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,8}"
}

fn value(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1000i32..1000, 0u16..1000)
            .prop_map(|(a, b)| Value::Float(format!("{a}.{b}").parse().unwrap())),
        "[ -~\t\n\u{e9}]{0,12}".prop_map(Value::String),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => prop::collection::vec(value(depth - 1), 0..4).prop_map(|items| Value::Array(
            items.into_iter().map(|v| Spanned::new(v, Default::default())).collect()
        )),
        1 => prop::collection::vec((key(), value(depth - 1)), 0..4).prop_map(|entries| {
            let mut unique: Vec<(String, Spanned)> = Vec::new();
            for (k, v) in entries {
                if !unique.iter().any(|(u, _)| *u == k) {
                    unique.push((k, Spanned::new(v, Default::default())));
                }
            }
            Value::Map(unique)
        }),
    ]
    .boxed()
}

/// Writes a value in the dialect: strings double-quoted with escapes, a blank before `]`.
fn write(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::DateTime(d) => d.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| write(&i.value)).collect();
            format!("[{} ]", parts.join(", "))
        }
        Value::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", write(&v.value)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

/// The value with every position and flag reset, for comparison.
fn bare(v: Value) -> Spanned {
    Spanned::new(
        match v {
            Value::Array(items) => Value::Array(items.into_iter().map(|i| bare(i.value)).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, bare(v.value)))
                    .collect(),
            ),
            other => other,
        },
        Default::default(),
    )
}

fn strip(s: &Spanned) -> Value {
    bare(s.value.clone()).value
}
