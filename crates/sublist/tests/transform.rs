//! Subject transforms against vectors recorded from a real nats-server v2.15.1: each
//! mapping was configured under `mappings { ... }`, a raw-socket client subscribed to `>`
//! and published every subject, and the subject of the delivered `MSG` is the expected
//! output (`None`: nothing was delivered because the output is not a valid subject, while
//! the transform itself produced the string given in the comment). Error texts are what
//! `nats-server -t` printed after `Error adding mapping for "src" to "dest" : `.

use natrium_sublist::{
    is_valid_literal_subject, transform_tokenize, validate_mapping, Choice, SubjectTransform,
    TransformError, WeightedMapping,
};

/// One mapping and what nats-server delivered for each published subject.
struct Recorded {
    src: &'static str,
    dest: &'static str,
    vectors: &'static [(&'static str, &'static str)],
}

fn check(cases: &[Recorded]) {
    for case in cases {
        validate_mapping(case.src, case.dest).unwrap_or_else(|e| panic!("{}: {e}", case.dest));
        let tr = SubjectTransform::new(case.src, case.dest).unwrap();
        for (subject, expected) in case.vectors {
            let got = tr.apply_with_random(subject, &mut || 0);
            assert_eq!(
                got.as_deref(),
                Some(*expected),
                "{} -> {} on {subject}",
                case.src,
                case.dest
            );
        }
    }
}

#[test]
fn partition_vectors_from_nats_server() {
    check(&[
        Recorded {
            src: "orders.*.*",
            dest: "P.{{partition(7,1,2)}}.$1.$2",
            vectors: &[
                ("orders.a.1", "P.2.a.1"),
                ("orders.b.2", "P.1.b.2"),
                ("orders.c.3", "P.1.c.3"),
                ("orders.customer.42", "P.4.customer.42"),
                ("orders.x.y", "P.4.x.y"),
                ("orders.eu.acme", "P.2.eu.acme"),
                ("orders.us.globex", "P.1.us.globex"),
                ("orders.z.0", "P.4.z.0"),
                ("orders.alpha.beta", "P.3.alpha.beta"),
                ("orders.1.1", "P.3.1.1"),
                ("orders.k9.v7", "P.6.k9.v7"),
                ("orders.foo.bar", "P.0.foo.bar"),
                ("orders.bar.foo", "P.6.bar.foo"),
                ("orders.long-token-here.x", "P.4.long-token-here.x"),
                ("orders.q.w", "P.2.q.w"),
                ("orders.e.r", "P.0.e.r"),
                ("orders.t.y", "P.3.t.y"),
                ("orders.u.i", "P.3.u.i"),
                ("orders.o.p", "P.6.o.p"),
                ("orders.aa.bb", "P.0.aa.bb"),
            ],
        },
        // Index order matters: the selected tokens are concatenated without a separator.
        Recorded {
            src: "pr.*.*",
            dest: "PR.{{partition(5,2,1)}}.{{partition(3,1)}}",
            vectors: &[
                ("pr.a.1", "PR.1.1"),
                ("pr.b.2", "PR.4.1"),
                ("pr.c.3", "PR.0.2"),
                ("pr.customer.42", "PR.4.2"),
                ("pr.x.y", "PR.4.0"),
                ("pr.eu.acme", "PR.3.2"),
                ("pr.us.globex", "PR.4.0"),
                ("pr.z.0", "PR.2.1"),
                ("pr.alpha.beta", "PR.2.2"),
                ("pr.1.1", "PR.1.1"),
            ],
        },
        // partition(n) alone hashes the whole subject, dots included.
        Recorded {
            src: "ph.>",
            dest: "PH.{{partition(6)}}.>",
            vectors: &[
                ("ph.a.b", "PH.4.a.b"),
                ("ph.x", "PH.5.x"),
                ("ph.1.2.3", "PH.3.1.2.3"),
                ("ph.orders", "PH.0.orders"),
                ("ph.z.z", "PH.5.z.z"),
            ],
        },
        Recorded {
            src: "lit",
            dest: "LIT.{{partition(10)}}",
            vectors: &[("lit", "LIT.0")],
        },
        Recorded {
            src: "pw.*",
            dest: "PW.{{partition(4)}}.$1",
            vectors: &[
                ("pw.a", "PW.1.a"),
                ("pw.b", "PW.0.b"),
                ("pw.hello", "PW.2.hello"),
                ("pw.z", "PW.0.z"),
            ],
        },
        // Without source wildcards the index list is ignored: the whole subject is hashed.
        Recorded {
            src: "o7",
            dest: "O7.{{partition(3,1)}}",
            vectors: &[("o7", "O7.1")],
        },
        Recorded {
            src: "o8.*",
            dest: "O8.{{partition(0)}}.{{partition(1)}}",
            vectors: &[("o8.a", "O8.0.0")],
        },
        Recorded {
            src: "o9.*.*",
            dest: "O9.{{partition(1000,2,1,2)}}.{{partition(1000)}}",
            vectors: &[
                ("o9.a.b", "O9.698.128"),
                ("o9.xy.z", "O9.24.70"),
                ("o9.foo.bar", "O9.563.840"),
            ],
        },
        // A negative count is reinterpreted as unsigned: modulo 2^32 - 3.
        Recorded {
            src: "o3.*",
            dest: "O3.{{partition(-3)}}.$1",
            vectors: &[
                ("o3.a", "O3.834894062.a"),
                ("o3.b", "O3.818116443.b"),
                ("o3.hello", "O3.3892040201.hello"),
            ],
        },
        Recorded {
            src: "o11.*.>",
            dest: "O11.{{partition(5,1)}}.>",
            vectors: &[("o11.k.l.m", "O11.0.l.m"), ("o11.k.l", "O11.0.l")],
        },
    ]);
}

#[test]
fn wildcard_vectors_from_nats_server() {
    check(&[
        Recorded {
            src: "w.*.*.>",
            dest: "W.$2.{{wildcard(1)}}.>",
            vectors: &[("w.a.b.c", "W.b.a.c"), ("w.a.b.c.d.e", "W.b.a.c.d.e")],
        },
        // $0 and $-1 read the first subject token; $+2 is $2; $x is a literal.
        Recorded {
            src: "w0.*.*",
            dest: "W0.$0.$-1.$+2.$x.{{ wildcard( 1 ) }}",
            vectors: &[("w0.a.b", "W0.w0.w0.b.$x.a")],
        },
        Recorded {
            src: "o4.*.*",
            dest: "O4.$0.{{left(0,1)}}.{{left(-1,1)}}.$02",
            vectors: &[("o4.a.b", "O4.o4.o.o.b")],
        },
        Recorded {
            src: "fw.>",
            dest: "FW.>",
            vectors: &[("fw.a", "FW.a"), ("fw.a.b.c", "FW.a.b.c")],
        },
        Recorded {
            src: "fw2.*.>",
            dest: "FW2.{{wildcard(1)}}.x.>",
            vectors: &[("fw2.a.b", "FW2.a.x.b"), ("fw2.a.b.c", "FW2.a.x.b.c")],
        },
        Recorded {
            src: "mix.*",
            dest: "MIX.$1.$1",
            vectors: &[("mix.z", "MIX.z.z")],
        },
        // Not a function (does not end in `}}`), `{{}}` is too short, and a `.` inside the
        // braces splits the token: all literals.
        Recorded {
            src: "o1.*",
            dest: "O1.{{wildcard(1)}}x",
            vectors: &[("o1.a", "O1.{{wildcard(1)}}x")],
        },
        Recorded {
            src: "o2.*",
            dest: "O2.{{ Wildcard ( 1 ) }}",
            vectors: &[("o2.a", "O2.a")],
        },
        Recorded {
            src: "o5.*",
            dest: "O5.{{split(1,.)}}.$1",
            vectors: &[("o5.a", "O5.{{split(1,.)}}.a")],
        },
        Recorded {
            src: "o6.*",
            dest: "O6.{{}}.$1",
            vectors: &[("o6.a", "O6.{{}}.a")],
        },
        Recorded {
            src: "rnd.*",
            dest: "RND.{{random(1)}}.{{random(0)}}.$1",
            vectors: &[("rnd.q", "RND.0.0.q")],
        },
    ]);
}

#[test]
fn split_vectors_from_nats_server() {
    check(&[
        Recorded {
            src: "s.*",
            dest: "S.{{split(1,-)}}",
            vectors: &[
                ("s.a-b-c", "S.a.b.c"),
                ("s.-a--b-", "S.a.b"),
                ("s.abc", "S.abc"),
                ("s.a", "S.a"),
            ],
        },
        Recorded {
            src: "se.*",
            dest: "SE.{{split(1,)}}",
            vectors: &[("se.abc", "SE.a.b.c"), ("se.x", "SE.x")],
        },
        Recorded {
            src: "sp.*",
            dest: "SP.{{ split (1,  _) }}",
            vectors: &[("sp.a_b__c_", "SP.a.b.c")],
        },
        Recorded {
            src: "o10.*",
            dest: "O10.{{split(1,ab)}}",
            vectors: &[("o10.xabyabz", "O10.x.y.z"), ("o10.abxab", "O10.x")],
        },
    ]);
    // nats-server delivered nothing for these: the outputs are not valid subjects.
    let tr = SubjectTransform::new("s.*", "S.{{split(1,-)}}").unwrap();
    assert_eq!(tr.apply("s.---").as_deref(), Some("S."));
    let tr = SubjectTransform::new("o10.*", "O10.{{split(1,ab)}}").unwrap();
    assert_eq!(tr.apply("o10.ab").as_deref(), Some("O10."));
}

#[test]
fn slice_and_split_from_vectors_from_nats_server() {
    check(&[
        Recorded {
            src: "sl.*",
            dest: "SL.{{splitfromleft(1,3)}}",
            vectors: &[
                ("sl.abcdef", "SL.abc.def"),
                ("sl.abc", "SL.abc"),
                ("sl.ab", "SL.ab"),
                ("sl.abcd", "SL.abc.d"),
            ],
        },
        Recorded {
            src: "sr.*",
            dest: "SR.{{SplitFromRight(1,3)}}",
            vectors: &[
                ("sr.abcdef", "SR.abc.def"),
                ("sr.abc", "SR.abc"),
                ("sr.abcd", "SR.a.bcd"),
            ],
        },
        Recorded {
            src: "cl.*",
            dest: "CL.{{slicefromleft(1,2)}}",
            vectors: &[
                ("cl.abcde", "CL.ab.cd.e"),
                ("cl.abcdef", "CL.ab.cd.ef"),
                ("cl.ab", "CL.ab"),
                ("cl.a", "CL.a"),
            ],
        },
        Recorded {
            src: "cr.*",
            dest: "CR.{{SliceFromRight(1,2)}}",
            vectors: &[
                ("cr.abcde", "CR.a.bc.de"),
                ("cr.abcdef", "CR.ab.cd.ef"),
                ("cr.ab", "CR.ab"),
                ("cr.a", "CR.a"),
            ],
        },
        Recorded {
            src: "cl3.*",
            dest: "CL3.{{slicefromleft(1,3)}}",
            vectors: &[
                ("cl3.abcdefgh", "CL3.abc.def.gh"),
                ("cl3.abcdefghi", "CL3.abc.def.ghi"),
            ],
        },
        Recorded {
            src: "cr3.*",
            dest: "CR3.{{slicefromright(1,3)}}",
            vectors: &[
                ("cr3.abcdefgh", "CR3.ab.cde.fgh"),
                ("cr3.abcdefghi", "CR3.abc.def.ghi"),
                ("cr3.abcd", "CR3.a.bcd"),
            ],
        },
        Recorded {
            src: "ln.*",
            dest: "LN.{{left(1,0)}}.{{right(1,-1)}}.{{splitfromleft(1,0)}}.{{slicefromleft(1,0)}}",
            vectors: &[("ln.abc", "LN.abc.abc.abc.abc")],
        },
        // Multi-byte characters: only cuts on character boundaries are recorded here; see
        // `cuts_inside_a_character_keep_the_token` for the rest.
        Recorded {
            src: "u.*",
            dest: "U.{{left(1,2)}}.{{right(1,2)}}.{{splitfromleft(1,2)}}.{{slicefromright(1,2)}}",
            vectors: &[("u.éé", "U.é.é.é.é.é.é")],
        },
    ]);
}

#[test]
fn left_right_vectors_from_nats_server() {
    check(&[
        Recorded {
            src: "l.*",
            dest: "L.{{left(1,2)}}",
            vectors: &[("l.abc", "L.ab"), ("l.ab", "L.ab"), ("l.a", "L.a")],
        },
        Recorded {
            src: "r.*",
            dest: "R.{{Right(1,2)}}",
            vectors: &[("r.abc", "R.bc"), ("r.ab", "R.ab"), ("r.a", "R.a")],
        },
    ]);
}

/// nats-server writes bytes, so a cut inside a UTF-8 character yields invalid UTF-8 (it
/// delivered `U.é.\xa9a.é.a\xc3...`). Subjects here are `str`: such a cut keeps the token.
#[test]
fn cuts_inside_a_character_keep_the_token() {
    let tr = SubjectTransform::new(
        "u.*",
        "U.{{left(1,1)}}.{{right(1,1)}}.{{slicefromleft(1,1)}}",
    )
    .unwrap();
    assert_eq!(tr.apply("u.é").as_deref(), Some("U.é.é.é"));
    assert_eq!(tr.apply("u.éa").as_deref(), Some("U.éa.a.éa"));
}

/// (src, dest, what `nats-server -t` said: "OK" or the error text).
const CONFIG_ERRORS: &[(&str, &str, &str)] = &[
    ("foo.*", "bar.$2", "invalid mapping destination: wildcard index out of range in $2: [2]"),
    ("foo.*", "bar.{{wildcard(2)}}", "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"),
    ("foo", "bar.$1", "invalid mapping destination: wildcard index out of range in $1"),
    ("foo", "bar.{{wildcard(1)}}", "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}"),
    ("foo.*", "bar.{{unknown(1)}}", "invalid mapping destination: unknown function in {{unknown(1)}}"),
    ("foo.*", "bar.{{wildcard()}}", "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"),
    ("foo.*", "bar.{{wildcard(1,2)}}", "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"),
    ("foo.*", "bar.{{wildcard(x)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(x)}}"),
    ("foo.*", "bar.{{partition(x,1)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{partition(x,1)}}"),
    ("foo.*", "bar.{{partition(3,2)}}", "invalid mapping destination: wildcard index out of range in {{partition(3,2)}}: [2]"),
    ("foo.*", "bar.{{splitfromleft(1)}}", "invalid mapping destination: not enough arguments passed to the function in {{splitfromleft(1)}}"),
    ("foo.*", "bar.{{splitfromleft(1,2,3)}}", "invalid mapping destination: too many arguments passed to the function in {{splitfromleft(1,2,3)}}"),
    ("foo.*", "bar.{{splitfromleft(1,x)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{splitfromleft(1,x)}}"),
    ("foo.*", "bar.{{split(1)}}", "invalid mapping destination: not enough arguments passed to the function in {{split(1)}}"),
    ("foo.*", "bar.{{split(1,.)}}", "OK"),
    ("foo.*", "bar.{{split(1,a,b)}}", "invalid mapping destination: too many arguments passed to the function in {{split(1,a,b)}}"),
    ("foo.*", "bar.{{random()}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{random()}}"),
    ("foo.*", "bar.{{random(1,2)}}", "invalid mapping destination: not enough arguments passed to the function in {{random(1,2)}}"),
    ("foo.*", "bar.*", "invalid subject"),
    ("foo.>", "bar", "invalid subject"),
    ("foo", "bar.>", "invalid subject"),
    ("foo.*", "bar..baz", "invalid mapping destination: invalid transform"),
    ("foo.*", "{{WILDCARD(1)}}", "invalid mapping destination: unknown function in {{WILDCARD(1)}}"),
    ("foo.*", "{{WildCard(1)}}", "invalid mapping destination: unknown function in {{WildCard(1)}}"),
    ("foo.*", "{{Wildcard(1)}}", "OK"),
    ("foo.*", "{{ wildcard (1) }}", "OK"),
    ("foo.*", "a b", "invalid mapping destination: invalid transform"),
    ("foo.*", "{{wildcard(1)}}x", "OK"),
    ("foo", "{{partition(3,1)}}", "OK"),
    ("foo", "{{random(3)}}", "OK"),
    ("foo.*", "{{left(1,99999999999)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{left(1,99999999999)}}"),
    ("foo.*", "{{partition(99999999999)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{partition(99999999999)}}"),
    ("foo.*", "{{partition(-3)}}.$1", "OK"),
    ("foo.*", "$0", "OK"),
    ("foo.*", "{{left(0,1)}}", "OK"),
    ("foo.*", "{{left(-1,1)}}", "OK"),
    ("foo.*", "{{wildcard(1)}}.>", "invalid subject"),
    ("foo.*.>", "$1", "invalid subject"),
    ("foo.*", "{{split(1,-)}}", "OK"),
    ("foo.*", "{{}}", "OK"),
    ("foo.*", "{{ }}", "invalid mapping destination: unknown function in {{ }}"),
    ("foo.*", "{{x}}", "invalid mapping destination: unknown function in {{x}}"),
    ("*", "{{splitFromLeft(1,2)}}", "OK"),
    ("*", "{{SPLITFROMLEFT(1,2)}}", "invalid mapping destination: unknown function in {{SPLITFROMLEFT(1,2)}}"),
    ("*", "{{wildcard(1)}}{{wildcard(1)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(1)}}{{wildcard(1)}}"),
    ("*", "{{left(1,2)}}", "OK"),
    ("*", "{{Left(1, 2)}}", "OK"),
    ("*", "{{random(-1)}}", "OK"),
    ("foo.*", "{{wildcard(+1)}}", "OK"),
    ("foo.*", "{{wildcard( 1)}}", "OK"),
    ("foo.*", "{{wildcard(1 )}}", "OK"),
    ("foo.*", "{{wildcard(\t1)}}", "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(\t1)}}"),
    ("foo.*", "bar.{{  split ( 1 ,  _ )  }}", "invalid mapping destination: function argument is invalid or in the wrong format in {{  split ( 1 ,  _ )  }}"),
];

#[test]
fn config_errors_match_nats_server() {
    for (src, dest, expected) in CONFIG_ERRORS {
        let got = match validate_mapping(src, dest) {
            Ok(()) => "OK".to_string(),
            Err(e) => e.to_string(),
        };
        assert_eq!(&got, expected, "{src} -> {dest}");
        // `new` alone agrees except on the checks only `validate_mapping` makes.
        let from_new = SubjectTransform::new(src, dest)
            .map(|_| ())
            .map_err(|e| e.to_string());
        match (*dest, from_new) {
            ("bar..baz", Err(e)) => assert_eq!(e, "invalid subject"),
            ("a b", Ok(())) => {}
            (_, Ok(())) => assert_eq!(*expected, "OK", "{src} -> {dest}"),
            (_, Err(e)) => assert_eq!(&e, expected, "{src} -> {dest}"),
        }
    }
}

#[test]
fn strict_transforms_only_substitute_wildcards() {
    assert!(SubjectTransform::new_strict("a.*.*", "b.$2.{{wildcard(1)}}").is_ok());
    assert_eq!(
        SubjectTransform::new_strict("a.*.*", "b.$2").unwrap_err(),
        TransformError::NotUsingAllWildcards {
            token: "b.$2".into()
        }
    );
    let err = SubjectTransform::new_strict("a.*", "b.{{partition(3,1)}}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid mapping destination: the only mapping function allowed for import transforms is \
         {{Wildcard()}} in {{partition(3,1)}}"
    );
    assert!(SubjectTransform::new_strict("a.b", "c.d").is_ok());
}

#[test]
fn apply_rejects_non_matching_and_non_literal_subjects() {
    let tr = SubjectTransform::new("a.*.>", "b.$1.>").unwrap();
    for subject in ["a", "a.x", "b.x.y", "a.*.y", "a.x.>", "a..y", "", "a.x.y."] {
        assert_eq!(tr.apply(subject), None, "{subject}");
    }
    assert_eq!(tr.apply("a.x.y").as_deref(), Some("b.x.y"));
    // An empty source means `>`; `>` to `>` passes anything through, as nats-server does.
    let any = SubjectTransform::new("", ">").unwrap();
    assert_eq!(any.source(), ">");
    assert_eq!(any.apply("x.y").as_deref(), Some("x.y"));
    assert_eq!(
        SubjectTransform::new("a", "").unwrap_err(),
        TransformError::EmptyDestination
    );
    assert_eq!(validate_mapping("a", ""), Ok(()));
}

#[test]
fn random_uses_the_supplied_draw() {
    let tr = SubjectTransform::new("r.*", "R.{{random(10)}}.{{random(-4)}}.$1").unwrap();
    let mut draws = [1234u32, 0xffff_ffff].into_iter();
    let got = tr.apply_with_random("r.x", &mut || draws.next().unwrap());
    // 0xffff_ffff keeps 31 bits: 2147483647 % 4 = 3 (Go's % takes the dividend's sign).
    assert_eq!(got.as_deref(), Some("R.4.3.x"));
    for _ in 0..100 {
        let n: u32 = tr
            .apply("r.x")
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(n < 10);
    }
}

#[test]
fn tokenize_builds_the_identity_destination() {
    assert_eq!(transform_tokenize("a.*.b.*.>"), "a.$1.b.$2.>");
    assert_eq!(transform_tokenize("a"), "a");
}

#[test]
fn weighted_mapping_chooses_by_cumulative_weight() {
    let m = WeightedMapping::new("orders.*", &[("A.$1", 30), ("B.$1", 20)]).unwrap();
    // Sorted by weight: B [0, 20), A [20, 50), the remainder keeps the subject [50, 100).
    assert_eq!(m.choose("orders.x", 0), Choice::Mapped("B.x".into()));
    assert_eq!(m.choose("orders.x", 19), Choice::Mapped("B.x".into()));
    assert_eq!(m.choose("orders.x", 20), Choice::Mapped("A.x".into()));
    assert_eq!(m.choose("orders.x", 49), Choice::Mapped("A.x".into()));
    assert_eq!(m.choose("orders.x", 50), Choice::Mapped("orders.x".into()));
    assert_eq!(m.choose("orders.x", 99), Choice::Mapped("orders.x".into()));
    assert_eq!(m.choose("orders.x", 100), Choice::Dropped);
    assert_eq!(m.choose("other.x", 0), Choice::NoMatch);
    assert_eq!(m.source(), "orders.*");

    // Listing the source itself means the remainder is dropped. nats-server v2.15.1 with
    // `wm: [{destination: wm, weight: 40%}, {destination: bar, weight: 10%}]` delivered 426
    // `wm` and 97 `bar` of 1,000 publishes; `wk.*: [{destination: "A.$1", weight: 30%}]`
    // delivered 305 `A.z` and 695 unchanged `wk.z`.
    let lossy = WeightedMapping::new("foo", &[("foo", 40), ("bar", 10)]).unwrap();
    assert_eq!(lossy.choose("foo", 5), Choice::Mapped("bar".into()));
    assert_eq!(lossy.choose("foo", 45), Choice::Mapped("foo".into()));
    assert_eq!(lossy.choose("foo", 50), Choice::Dropped);

    let single = WeightedMapping::new("foo", &[("bar", 100)]).unwrap();
    assert_eq!(single.choose("foo", 250), Choice::Mapped("bar".into()));
}

#[test]
fn weighted_mapping_errors_match_nats_server() {
    let err =
        |src: &str, dests: &[(&str, u8)]| WeightedMapping::new(src, dests).unwrap_err().to_string();
    assert_eq!(
        err("foo", &[("a", 60), ("b", 50)]),
        "total weight needs to be <= 100"
    );
    assert_eq!(
        err("foo", &[("a", 60), ("a", 10)]),
        "duplicate entry for \"a\""
    );
    assert_eq!(
        err("foo", &[("a", 160)]),
        "individual weights need to be <= 100"
    );
    assert_eq!(
        err("foo.*", &[("a.$2", 50)]),
        "invalid mapping destination: wildcard index out of range in $2: [2]"
    );
    assert_eq!(
        err("foo.*", &[("a b.$1", 50)]),
        "invalid mapping destination: invalid transform"
    );
    assert_eq!(err("foo..x", &[("a", 50)]), "invalid subject");
}

#[test]
fn wildcard_output_is_a_valid_literal_subject() {
    let tr = SubjectTransform::new("a.*.*.>", "x.$2.{{wildcard(1)}}.>").unwrap();
    let out = tr.apply("a.b.c.d.e").unwrap();
    assert_eq!(out, "x.c.b.d.e");
    assert!(is_valid_literal_subject(&out));
}

/// Randomly generated destinations (odd spacing, cases, signs and argument counts) recorded
/// from nats-server v2.15.1: the `-t` verdict of each, and what the server delivered for
/// subjects published through the valid ones.
#[test]
fn random_destinations_match_nats_server() {
    let data = include_str!("data/transform_vectors.tsv");
    let mut checked = 0;
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["E", src, dest, verdict] => {
                let got =
                    validate_mapping(src, dest).map_or_else(|e| e.to_string(), |()| "OK".into());
                assert_eq!(got, *verdict, "{src} -> {dest}");
            }
            ["A", src, dest, subject, delivered] => {
                let tr = SubjectTransform::new(src, dest).unwrap();
                let got = tr.apply_with_random(subject, &mut || 0).unwrap();
                if *delivered == "NONE" {
                    assert!(
                        !is_valid_literal_subject(&got),
                        "{src} -> {dest} on {subject}: {got}"
                    );
                } else {
                    assert_eq!(got, *delivered, "{src} -> {dest} on {subject}");
                }
            }
            _ => panic!("bad line {line:?}"),
        }
        checked += 1;
    }
    assert!(checked > 600);
}
