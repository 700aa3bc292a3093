//! The JSON Schemas the document embeds: a plugin's schemas made to stand inside an
//! OpenAPI document, response schemas narrowed to what clients see, and schemas derived
//! from `fields` when a plugin gives none.

use crate::fields::{RESOURCE_URI, Shape};
use serde_json::{Map, Value, json};

/// How deep into a plugin's schema the host rewrites; a schema nested deeper is kept as
/// it is below this depth (it is valid, only less precise there).
const MAX_WALK_DEPTH: usize = 64;

/// Definitions a schema carried in `$defs`, moved to `components.schemas`.
pub type Lifted = Vec<(String, Value)>;

/// `schema` ready to embed: its `$defs` (and draft-07 `definitions`) moved out under
/// names starting with `prefix`, and the `$ref`s to them rewritten. In an OpenAPI
/// document a `#/$defs/...` reference would resolve against the document, not the
/// schema it sits in.
pub fn embedded(schema: &Value, prefix: &str, lifted: &mut Lifted) -> Value {
    let mut schema = schema.clone();
    let mut defs = Map::new();
    if let Value::Object(object) = &mut schema {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(found)) = object.remove(key) {
                defs.extend(found);
            }
        }
    }
    let rewrite = |value: &mut Value| rewrite_refs(value, prefix, 0);
    let mut schema = schema;
    rewrite(&mut schema);
    for (name, mut definition) in defs {
        rewrite(&mut definition);
        lifted.push((format!("{prefix}.{name}"), definition));
    }
    schema
}

fn rewrite_refs(value: &mut Value, prefix: &str, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref") {
                let local = reference
                    .strip_prefix("#/$defs/")
                    .or_else(|| reference.strip_prefix("#/definitions/"));
                if let Some(name) = local {
                    *reference = format!("#/components/schemas/{prefix}.{name}");
                }
            }
            for child in object.values_mut() {
                rewrite_refs(child, prefix, depth + 1);
            }
        }
        Value::Array(items) => {
            for child in items {
                rewrite_refs(child, prefix, depth + 1);
            }
        }
        _ => {}
    }
}

/// What clients see of data `schema` describes: the properties `shape` hides removed,
/// `resource_uri` added to items when the resource has an item URI, and no property
/// required (a client's `?fields=` may leave any out).
pub fn narrowed(schema: &Value, shape: Shape<'_>, resource_uri: bool) -> Value {
    let mut schema = schema.clone();
    narrow(&mut schema, Some(shape), resource_uri, 0);
    schema
}

fn narrow(schema: &mut Value, shape: Option<Shape<'_>>, resource_uri: bool, depth: usize) {
    let Value::Object(object) = schema else {
        return;
    };
    if depth > MAX_WALK_DEPTH {
        return;
    }
    object.remove("required");
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        // `retain` keeps the order the plugin wrote its properties in.
        properties.retain(|key, _| shape.is_none_or(|shape| shape.child(key).is_some()));
        for (key, value) in properties.iter_mut() {
            let child = shape.and_then(|shape| shape.child(key));
            narrow(value, child, false, depth + 1);
        }
    }
    if resource_uri && describes_objects(object) {
        let properties = object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(properties) = properties {
            properties.insert(RESOURCE_URI.to_owned(), resource_uri_schema());
        }
    }
    // Lists are transparent to fields, and each object of a top-level list gets its
    // `resource_uri` as an object alone does.
    if let Some(items) = object.get_mut("items") {
        narrow(items, shape, resource_uri, depth + 1);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(branches)) = object.get_mut(key) {
            for branch in branches {
                narrow(branch, shape, resource_uri, depth + 1);
            }
        }
    }
}

/// Whether a schema says its instances are objects.
fn describes_objects(object: &Map<String, Value>) -> bool {
    match object.get("type") {
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "object"),
        _ => object.contains_key("properties"),
    }
}

fn resource_uri_schema() -> Value {
    json!({
        "type": "string",
        "format": "uri-reference",
        "readOnly": true,
        "description": "The item's own URI, filled by the host from the resource's item URI template.",
    })
}

/// A schema for data a plugin did not describe: the `fields` it shows, as properties
/// of objects alone or in a list (any value type), and `resource_uri`. Anything at all
/// when the resource names no fields and has no item URI.
pub fn derived(fields: &[String], shape: Shape<'_>, resource_uri: bool) -> Value {
    let mut properties = Map::new();
    for path in fields {
        insert_path(&mut properties, path.split('.'));
    }
    let mut item = Map::new();
    if !properties.is_empty() {
        item.insert("properties".to_owned(), Value::Object(properties));
    }
    let mut item = Value::Object(item);
    narrow(&mut item, Some(shape), false, 0);
    if let Value::Object(object) = &mut item
        && resource_uri
    {
        let properties = object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(properties) = properties {
            properties.insert(RESOURCE_URI.to_owned(), resource_uri_schema());
        }
    }
    match item {
        Value::Object(object) if object.is_empty() => json!({}),
        Value::Object(mut object) => {
            // The same properties for an object alone and for each object of a list;
            // `properties` constrains only objects, so neither shape is excluded.
            object.insert("items".to_owned(), Value::Object(object.clone()));
            Value::Object(object)
        }
        other => other,
    }
}

/// Adds a dotted path's names as nested `properties`.
fn insert_path<'a>(properties: &mut Map<String, Value>, mut names: impl Iterator<Item = &'a str>) {
    let Some(name) = names.next() else {
        return;
    };
    let entry = properties
        .entry(name.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    let rest: Vec<&str> = names.collect();
    if rest.is_empty() {
        return;
    }
    if let Value::Object(node) = entry {
        let children = node
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(children) = children {
            insert_path(children, rest.into_iter());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldFilter;

    fn filter(fields: &[&str], exclude: &[&str]) -> FieldFilter {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        FieldFilter::compile(&owned(fields), &owned(exclude)).unwrap()
    }

    #[test]
    fn defs_move_to_components_and_their_refs_follow() {
        let mut lifted = Vec::new();
        let schema = json!({
            "type": "array",
            "items": {"$ref": "#/$defs/post"},
            "$defs": {"post": {"type": "object", "properties": {"tags": {"$ref": "#/$defs/tags"}}},
                      "tags": {"type": "array"}},
        });
        let embedded = embedded(&schema, "blog.post.get", &mut lifted);
        assert_eq!(
            embedded,
            json!({"type": "array", "items": {"$ref": "#/components/schemas/blog.post.get.post"}})
        );
        assert_eq!(lifted.len(), 2);
        assert_eq!(
            lifted[0].1["properties"]["tags"]["$ref"],
            "#/components/schemas/blog.post.get.tags"
        );
    }

    #[test]
    fn narrowing_hides_fields_drops_required_and_adds_resource_uri() {
        let filter = filter(&["title", "author.username"], &["id"]);
        let schema = json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "id"],
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "secret": {"type": "string"},
                    "author": {"type": "object", "properties": {
                        "username": {"type": "string"}, "email": {"type": "string"}}},
                },
            },
        });
        let narrowed = narrowed(&schema, filter.shape(), true);
        let item = &narrowed["items"];
        assert!(item.get("required").is_none());
        let mut keys: Vec<&String> = item["properties"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["author", "resource_uri", "title"]);
        let author: Vec<&String> = item["properties"]["author"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(author, ["username"]);
        assert!(
            narrowed["properties"].is_null(),
            "the list itself has no resource_uri"
        );
    }

    #[test]
    fn derived_schemas_name_the_fields_for_objects_and_lists() {
        let filter = filter(&["title", "author.username"], &[]);
        let derived = derived(
            &["title".into(), "author.username".into()],
            filter.shape(),
            true,
        );
        assert_eq!(
            derived["properties"]["author"]["properties"]["username"],
            json!({})
        );
        assert_eq!(
            derived["items"]["properties"]["resource_uri"]["type"],
            "string"
        );
        assert!(derived.get("type").is_none());
        let anything = super::derived(&[], FieldFilter::everything().shape(), false);
        assert_eq!(anything, json!({}));
    }
}
