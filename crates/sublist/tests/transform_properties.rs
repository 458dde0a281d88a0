//! Property tests for subject transforms: wildcard-only transforms applied to random
//! matching subjects give the tokens a model predicts and always a valid literal subject;
//! and nothing panics on arbitrary sources, destinations and subjects built from the
//! fragments that matter to the grammar (braces, parentheses, commas, spaces, newlines,
//! signs, huge numbers, multi-byte characters, function names in odd cases).

use natrium_sublist::{
    is_valid_literal_subject, validate_mapping, SubjectTransform, WeightedMapping,
};
use proptest::prelude::*;

/// A source over literal tokens and `*`, optionally ending in `>`, with its `*` count.
fn wildcard_source() -> impl Strategy<Value = (Vec<&'static str>, bool)> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*"]), 1..5),
        any::<bool>(),
    )
}

/// One destination token: a literal or a reference to wildcard `k` (1-based), either form.
#[derive(Debug, Clone)]
enum DestToken {
    Literal(&'static str),
    Dollar(usize),
    Mustache(usize),
}

fn token_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["x", "y1", "zz", "é", "long-token", "$"]).prop_map(str::to_string)
}

proptest! {
    #[test]
    fn wildcard_transforms_yield_the_modelled_literal_subject(
        (src_tokens, fwc) in wildcard_source(),
        picks in prop::collection::vec((0u8..3, 0usize..8, prop::sample::select(vec!["p", "q"])), 1..6),
        values in prop::collection::vec(token_value(), 8),
        tail in prop::collection::vec(token_value(), 1..4),
    ) {
        let npwcs = src_tokens.iter().filter(|t| **t == "*").count();
        let mut src = src_tokens.join(".");
        if fwc {
            src.push_str(".>");
        }
        let dest_tokens: Vec<DestToken> = picks
            .iter()
            .map(|&(kind, k, lit)| match (kind, npwcs) {
                (_, 0) | (0, _) => DestToken::Literal(lit),
                (1, n) => DestToken::Dollar(k % n + 1),
                (_, n) => DestToken::Mustache(k % n + 1),
            })
            .collect();
        let mut dest: Vec<String> = dest_tokens
            .iter()
            .map(|t| match t {
                DestToken::Literal(l) => l.to_string(),
                DestToken::Dollar(k) => format!("${k}"),
                DestToken::Mustache(k) => format!("{{{{wildcard({k})}}}}"),
            })
            .collect();
        if fwc {
            dest.push(">".into());
        }
        let tr = SubjectTransform::new(&src, &dest.join(".")).unwrap();
        // A matching subject: each `*` replaced by its value, then the `>` tail.
        let mut wild = Vec::new();
        let mut subject: Vec<String> = src_tokens
            .iter()
            .map(|t| if *t == "*" { wild.push(values[wild.len()].clone()); wild.last().unwrap().clone() } else { t.to_string() })
            .collect();
        if fwc {
            subject.extend(tail.iter().cloned());
        }
        let out = tr.apply(&subject.join(".")).unwrap();
        prop_assert!(is_valid_literal_subject(&out), "{out}");
        let mut expected: Vec<String> = dest_tokens
            .iter()
            .map(|t| match t {
                DestToken::Literal(l) => l.to_string(),
                DestToken::Dollar(k) | DestToken::Mustache(k) => wild[k - 1].clone(),
            })
            .collect();
        if fwc {
            expected.extend(tail.iter().cloned());
        }
        prop_assert_eq!(out, expected.join("."));
    }

    #[test]
    fn nothing_panics_on_arbitrary_input(
        src in fragments(),
        dest in fragments(),
        subjects in prop::collection::vec(fragments(), 1..4),
        r in any::<u8>(),
        weight in any::<u8>(),
    ) {
        let _ = validate_mapping(&src, &dest);
        for tr in [SubjectTransform::new(&src, &dest), SubjectTransform::new_strict(&src, &dest)]
            .into_iter()
            .flatten()
        {
            for subject in &subjects {
                let _ = tr.apply(subject);
            }
            // Whatever the transform accepted must also apply to a subject it matches.
            let literal = tr.source().replace('*', "q").replace('>', "t.u");
            let _ = tr.apply(&literal);
        }
        if let Ok(m) = WeightedMapping::new(&src, &[(dest.as_str(), weight), ("w", 5)]) {
            for subject in &subjects {
                let _ = m.choose(subject, r);
            }
        }
    }
}

/// A destination of function calls with arbitrary names, spacing and arguments, so that
/// many of them compile and then run against subjects with short and multi-byte tokens.
fn function_dest() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "wildcard",
        "partition",
        "split",
        "splitFromLeft",
        "splitfromright",
        "SliceFromLeft",
        "sliceFromRight",
        "left",
        "Right",
        "random",
        "Split",
    ]);
    let args = prop::collection::vec(
        prop::sample::select(vec!["1", "2", "0", "-1", "3", "-3", "7", "-", "é", ""]),
        0..4,
    );
    let space = prop::sample::select(vec!["", " ", "  "]);
    let call = (names, args, space)
        .prop_map(|(name, args, sp)| format!("{{{{{sp}{name}{sp}({}){sp}}}}}", args.join(", ")));
    let token = prop_oneof![
        call,
        prop::sample::select(vec!["x", "$1", "$2"]).prop_map(str::to_string)
    ];
    prop::collection::vec(token, 1..4).prop_map(|v| v.join("."))
}

proptest! {
    #[test]
    fn compiled_functions_never_panic(
        dest in function_dest(),
        values in prop::collection::vec(
            prop::sample::select(vec!["a", "ab", "abcdefg", "é", "aé-b", "--", "-a-", "3é3é3"]),
            2,
        ),
    ) {
        let src = "s.*.*";
        if let Ok(tr) = SubjectTransform::new(src, &dest) {
            let subject = format!("s.{}.{}", values[0], values[1]);
            prop_assert!(tr.apply(&subject).is_some());
        }
    }
}

/// A string glued from fragments of the destination grammar.
fn fragments() -> impl Strategy<Value = String> {
    let pieces = vec![
        "{{",
        "}}",
        "{",
        "}",
        "(",
        ")",
        ",",
        ", ",
        " ",
        "\t",
        "\n",
        ".",
        "*",
        ">",
        "$",
        "1",
        "2",
        "0",
        "-1",
        "+1",
        "99999999999",
        "-2147483649",
        "a",
        "é",
        "wildcard",
        "Wildcard",
        "WILDCARD",
        "partition",
        "split",
        "splitFromLeft",
        "SplitFromRight",
        "sliceFromLeft",
        "slicefromright",
        "left",
        "Right",
        "random",
        "-",
        "_",
        "",
    ];
    prop::collection::vec(prop::sample::select(pieces), 0..12).prop_map(|v| v.concat())
}
