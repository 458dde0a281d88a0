//! nats-server's configuration digest (`-t` prints it): the SHA-256 of the parsed
//! configuration encoded as Go's `encoding/json` encodes the parser's map — keys sorted,
//! Go's string escaping (HTML characters included), Go's float formatting, a final newline.

use sha2::{Digest, Sha256};

use super::{Spanned, Value};

/// `sha256:<hex>` of the configuration `root`.
pub fn config_digest(root: &Spanned) -> String {
    let mut json = String::new();
    go_json(&root.value, &mut json);
    json.push('\n');
    let sum = Sha256::digest(json.as_bytes());
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&go_float(*f)),
        Value::String(s) | Value::DateTime(s) => go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(&item.value, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let mut sorted: Vec<&(String, Spanned)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(k, out);
                out.push(':');
                go_json(&v.value, out);
            }
            out.push('}');
        }
    }
}

/// Go's float64 JSON form: shortest round-trip digits, exponent form below 1e-6 and from
/// 1e21 on (`1e-07` written `1e-7`, `1e+21` kept).
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest nats-server v2.15.1 printed for this file with `-t`.
    #[test]
    fn matches_nats_server() {
        let text = r#"# sample
PORT = 4333
port: $PORT
server_name: "n<1>&x"
max_payload: 2MB
ping_interval: "2m"
write_deadline: 10s
debug: true
authorization {
  users = [
    {user: a, password: "p\"w\\d", permissions: {publish: ["a.>", "b"], subscribe: "c"}}
    {user: b, password: b}
  ]
}
jetstream { store_dir: "/tmp/x", max_mem: 1G }
accounts: { A: { users: [{user: z, password: z}] } }
"#;
        let root = crate::conf::parse_str(text).unwrap();
        assert_eq!(
            config_digest(&root),
            "sha256:c72712f54f83f8fec194d035da0cdfa4e9b5fb09c31b90e774ced12d1a972924"
        );
    }

    #[test]
    fn go_number_and_string_forms() {
        assert_eq!(go_float(0.25), "0.25");
        assert_eq!(go_float(2.0), "2");
        assert_eq!(go_float(1e-7), "1e-7");
        assert_eq!(go_float(1.5e21), "1.5e+21");
        let mut s = String::new();
        go_string("a<b>&\u{1}\"\\\n", &mut s);
        assert_eq!(s, r#""a\u003cb\u003e\u0026\u0001\"\\\n""#);
    }
}
