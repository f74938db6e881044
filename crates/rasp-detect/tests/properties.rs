//! Properties over arbitrary input: inspection and the decoders never
//! panic, stay within bounds, and fold idempotently where they should.

use proptest::prelude::*;
use rasp_detect::{Detector, SourceKind, normalize, sql_fold};

const KINDS: [SourceKind; 12] = SourceKind::ALL;

fn detector() -> &'static Detector {
    static D: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    D.get_or_init(|| Detector::new(4))
}

/// Bytes biased towards what the decoders and rules react to.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"%".to_vec()),
        Just(b"%25".to_vec()),
        Just(b"%c0%ae".to_vec()),
        Just(b"&#x3c;".to_vec()),
        Just(b"\\u003c".to_vec()),
        Just(b"'".to_vec()),
        Just(b"/*".to_vec()),
        Just(b"*/".to_vec()),
        Just(b"--".to_vec()),
        Just(b" union select ".to_vec()),
        Just(b"../".to_vec()),
        Just(b"<svg onload=".to_vec()),
        Just(b"${jndi:".to_vec()),
        Just(b"}".to_vec()),
        Just("é中".as_bytes().to_vec()),
        Just(b"\0".to_vec()),
    ];
    prop::collection::vec(atoms, 0..96).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn inspection_never_panics(v in hostile(), k in 0usize..KINDS.len()) {
        let found = detector().inspect(&v, KINDS[k]);
        // every finding names a rule and a class
        for f in found.iter() {
            prop_assert!(!f.rule.is_empty());
        }
    }

    #[test]
    fn decoding_never_grows_a_value(v in hostile(), plus in any::<bool>()) {
        let (decoded, _) = normalize(&v, plus);
        // decoding and folding only ever remove or replace: bounded output
        prop_assert!(decoded.len() <= 4 * v.len() + 16);
        prop_assert!(sql_fold(&decoded).len() <= decoded.len() + 16);
    }

    #[test]
    fn sql_folding_is_idempotent(v in hostile()) {
        let once = sql_fold(&v);
        prop_assert_eq!(sql_fold(&once), once);
    }

    #[test]
    fn plain_words_decode_to_themselves(v in "[a-zA-Z0-9 _.-]{0,64}") {
        let (decoded, e) = normalize(v.as_bytes(), false);
        prop_assert_eq!(decoded, v.to_ascii_lowercase().into_bytes());
        prop_assert!(!e.nul_byte && !e.percent_u && !e.overlong_utf8);
    }
}
