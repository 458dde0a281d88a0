//! Prints the parse tree of each conf file given, one line per file, in a compact canonical
//! form (`M{...}`, `A[...]`, `I(1)`, `S("x")`, ...) or `ERR "message"`. Used to compare this
//! parser's reading of a file with another implementation's.

use natrium_config::{parse_file, Value};

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn float(f: f64) -> String {
    format!("{f}")
}

fn dump(v: &Value) -> String {
    match v {
        Value::Bool(b) => format!("B({b})"),
        Value::Int(i) => format!("I({i})"),
        Value::Float(f) => format!("F({})", float(*f)),
        Value::String(s) => format!("S({})", quote(s)),
        Value::DateTime(d) => format!("D({d})"),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| dump(&i.value)).collect();
            format!("A[{}]", parts.join(","))
        }
        Value::Map(entries) => {
            let mut parts: Vec<(String, String)> = entries
                .iter()
                .map(|(k, v)| (k.clone(), format!("{}:{}", quote(k), dump(&v.value))))
                .collect();
            parts.sort();
            let parts: Vec<String> = parts.into_iter().map(|(_, p)| p).collect();
            format!("M{{{}}}", parts.join(","))
        }
    }
}

fn main() {
    for path in std::env::args().skip(1) {
        match parse_file(std::path::Path::new(&path)) {
            Ok(v) => println!("OK {}", dump(&v.value)),
            Err(e) => println!("ERR {}", quote(&e.to_string())),
        }
    }
}
