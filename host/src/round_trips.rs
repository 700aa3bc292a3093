//! Properties that hold across modules: whatever JSON a guest returns, each format
//! emits it so that its decoder reads the same data back; and the field filter never
//! shows what the rules hide.

use crate::decode::{DECODERS, Decoder, Limits};
use crate::emit::{Data, EMITTERS, Emitter, Options, View};
use crate::fields::FieldFilter;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn emitter(name: &str) -> &'static dyn Emitter {
    *EMITTERS
        .iter()
        .find(|emitter| emitter.format().name == name)
        .expect("a known format")
}

fn decoder(media_type: &str) -> &'static dyn Decoder {
    *DECODERS
        .iter()
        .find(|decoder| decoder.media_types().contains(&media_type))
        .expect("a known media type")
}

fn round_trip(format: &str, value: &Value) -> Value {
    let everything = FieldFilter::compile(&[], &[]).unwrap();
    let view = View {
        filter: &everything,
        uri: None,
    };
    let json = value.to_string();
    let mut bytes = Vec::new();
    let emitter = emitter(format);
    emitter
        .document(
            &Data::document(&json, &view),
            Options::default(),
            &mut bytes,
        )
        .unwrap();
    let media_type = emitter.format().media_types[0];
    let limits = Limits {
        max_depth: 64,
        max_output: 1 << 24,
    };
    let decoded = decoder(media_type)
        .decode(&bytes, &media_type.parse().unwrap(), limits)
        .unwrap_or_else(|error| panic!("{format}: {error}\n{}", String::from_utf8_lossy(&bytes)));
    serde_json::from_str(&decoded).unwrap()
}

/// What a value becomes through XML: text for every scalar, and an empty element (so
/// an empty string) for an empty list or object.
fn through_xml(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Number(number) => Value::String(number.to_string()),
        Value::String(text) => Value::String(text.clone()),
        Value::Array(items) if items.is_empty() => Value::String(String::new()),
        Value::Object(members) if members.is_empty() => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(through_xml).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, value)| (key.clone(), through_xml(value)))
                .collect(),
        ),
    }
}

/// Every key anywhere in a value.
fn keys(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| keys(item, found)),
        Value::Object(members) => {
            for (key, member) in members {
                found.push(key.clone());
                keys(member, found);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn json_yaml_msgpack_and_pickle_read_back_the_same_data(value in json()) {
        for format in ["json", "yaml", "msgpack", "pickle"] {
            prop_assert_eq!(&round_trip(format, &value), &value, "{}", format);
        }
    }

    #[test]
    fn xml_reads_back_the_same_text(value in json()) {
        prop_assert_eq!(round_trip("xml", &value), through_xml(&value));
    }

    #[test]
    fn the_filter_never_shows_what_it_hides(
        value in json(),
        shown in prop::collection::vec("[a-c]", 1..3),
    ) {
        let filter = FieldFilter::compile(&[], &["secret".to_owned(), "re:x".to_owned()])
            .unwrap()
            .narrow(Some(&shown.join(",")), None)
            .unwrap();
        let view = View { filter: &filter, uri: None };
        let json = value.to_string();
        let mut bytes = Vec::new();
        emitter("json").document(&Data::document(&json, &view), Options::default(), &mut bytes).unwrap();
        let filtered: Value = serde_json::from_slice(&bytes).unwrap();
        let mut found = Vec::new();
        keys(&filtered, &mut found);
        prop_assert!(found.iter().all(|key| key != "secret" && !key.starts_with('x')), "{:?}", found);
        if let Value::Object(members) = &filtered {
            prop_assert!(members.keys().all(|key| shown.contains(key)), "{:?}", members.keys());
        }
    }
}
