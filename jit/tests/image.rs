//! Image file tests: a fixture written by format version 1 still opens to the
//! same records, and damaged images (bits flipped, bytes cut) either open to
//! a prefix of their records or are refused with a clear error — never a
//! panic, never something that was not written.

use jit::image::format::{GlobalWrite, TaskRecord, TaskStatus};
use jit::image::{Record, Value, frame, read};
use proptest::prelude::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/image-v1.simg");

/// The records `image-v1.simg` holds (written by `write_fixture`).
fn fixture_records() -> Vec<Record> {
    vec![
        Record::Transaction {
            world: 2,
            committed_ms: 1_795_000_000_000,
            source_name: "<input>".into(),
            source: "type P { x: int }\nvar ps: [P] = []".into(),
        },
        Record::Writes {
            world: 2,
            writes: vec![GlobalWrite {
                name: "ps".into(),
                value: Value::Vec(vec![Value::Record { ty: "P".into(), version: 1, fields: vec![Value::Int(7)] }]),
            }],
        },
        Record::Task(TaskRecord {
            id: 1,
            function: "step".into(),
            is_loop: true,
            status: TaskStatus::Paused,
            state: vec![Value::Map(vec![(Value::Str("k".into()), Value::Float(1.5f64.to_bits()))])],
            steps: 3,
            error: Some("error: division by zero".into()),
        }),
    ]
}

fn image(records: &[Record]) -> Vec<u8> {
    let mut b = jit::image::frame::header().to_vec();
    for r in records {
        b.extend(frame::frame(r));
    }
    b
}

/// Run with `--ignored` to rewrite the fixture (only when a new format
/// version adds a new fixture; version 1's must never change).
#[test]
#[ignore]
fn write_fixture() {
    std::fs::write(FIXTURE, image(&fixture_records())).unwrap();
}

#[test]
fn a_format_1_image_still_opens() {
    let bytes = std::fs::read(FIXTURE).expect("the fixture is in the repository");
    let opened = read(&bytes, FIXTURE).expect("opens");
    assert_eq!(opened.records, fixture_records());
    assert_eq!(opened.torn, 0);
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Unit),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        ".{0,12}".prop_map(Value::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Vec),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Value::Map),
            ("[A-Z][a-z]{0,5}", 1u32..4, proptest::collection::vec(inner, 0..3))
                .prop_map(|(ty, version, fields)| Value::Record { ty, version, fields }),
        ]
    })
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (any::<u64>(), ".{0,40}").prop_map(|(world, source)| Record::Transaction {
            world,
            committed_ms: 0,
            source_name: "<input>".into(),
            source
        }),
        (any::<u64>(), proptest::collection::vec(("[a-z]{1,6}", value()), 0..3)).prop_map(|(world, ws)| {
            Record::Writes { world, writes: ws.into_iter().map(|(name, value)| GlobalWrite { name, value }).collect() }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn damaged_images_open_to_a_prefix_or_are_refused(
        records in proptest::collection::vec(record(), 1..6),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<bool>(),
    ) {
        let mut bytes = image(&records);
        let i = at.index(bytes.len());
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] ^= 1 << bit;
        }
        match read(&bytes, "img") {
            Ok(o) => {
                prop_assert!(o.records.len() <= records.len());
                prop_assert_eq!(&o.records[..], &records[..o.records.len()]);
                prop_assert_eq!(o.valid_len + o.torn, bytes.len() as u64);
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("img "), "{}", msg);
            }
        }
    }
}
