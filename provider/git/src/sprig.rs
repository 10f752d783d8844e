//! The sprig template functions that commit message templates commonly use,
//! added to `gotmpl`'s Go builtins.
//!
//! Flux passes `sprig.HermeticTxtFuncMap()` (Masterminds/sprig v3.3.0: every
//! function except the non-hermetic date/now/rand/uuid/env ones). This module
//! implements the string, list, dict, default/flow, regex, encoding and math
//! functions with sprig's argument order (the piped value comes last) and
//! semantics; it also replaces the builtin `index` so that a missing map key
//! gives `""` as Go's `index` does on a `map[string]string`.
//! Functions not listed in [`func_map`] are reported as undefined at parse time.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use gotmpl::{FuncMap, TemplateError, Value};

type R = gotmpl::Result<Value>;

fn err(name: &str, msg: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("{name}: {msg}"))
}

/// The longest string a function may build, in bytes (1 MiB): `repeat` and `indent` with
/// huge counts would otherwise allocate until the process aborts (Go's `strings.Repeat`
/// panics there). Found by fuzzing (issue #15).
pub(crate) const MAX_STRING_BYTES: usize = 1 << 20;

/// `n` copies of `unit`, or an error past [`MAX_STRING_BYTES`].
fn repeated(name: &str, unit: &str, n: i64) -> Result<String, TemplateError> {
    let n = usize::try_from(n).unwrap_or(0);
    match unit.len().checked_mul(n) {
        Some(len) if len <= MAX_STRING_BYTES => Ok(unit.repeat(n)),
        _ => Err(err(
            name,
            format!("{n} copies would be longer than the {MAX_STRING_BYTES}-byte limit"),
        )),
    }
}

fn s(v: &str) -> Value {
    Value::String(Arc::from(v))
}

/// Go's `fmt.Sprint` of one value, as sprig's `toString`.
fn to_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn to_int(name: &str, v: &Value) -> gotmpl::Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| err(name, "integer overflow")),
        Value::Float(f) => Ok(*f as i64),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| err(name, format!("{s:?} is not a number"))),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Nil => Ok(0),
        other => Err(err(
            name,
            format!("cannot convert {} to int", other.type_name()),
        )),
    }
}

fn to_list(name: &str, v: &Value) -> gotmpl::Result<Vec<Value>> {
    match v {
        Value::List(items) => Ok(items.to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(err(
            name,
            format!("cannot use {} as a list", other.type_name()),
        )),
    }
}

/// Sprig's `empty`: nil, false, 0, "", and empty lists and maps.
fn is_empty(v: &Value) -> bool {
    !v.is_truthy()
}

fn arity(name: &str, args: &[Value], n: usize) -> gotmpl::Result<()> {
    if args.len() == n {
        Ok(())
    } else {
        Err(err(
            name,
            format!("wrong number of args: want {n} got {}", args.len()),
        ))
    }
}

fn str_fn(f: fn(&str) -> String) -> impl Fn(&[Value]) -> R {
    move |args: &[Value]| {
        let v = args.last().map(to_str).unwrap_or_default();
        Ok(s(&f(&v)))
    }
}

fn str2_fn(name: &'static str, f: fn(&str, &str) -> Value) -> impl Fn(&[Value]) -> R {
    move |args: &[Value]| {
        arity(name, args, 2)?;
        Ok(f(&to_str(&args[0]), &to_str(&args[1])))
    }
}

fn title(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut at_start = true;
    for c in v.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = c.is_whitespace() || (!c.is_alphanumeric() && c != '\'' && c != '_');
    }
    out
}

fn untitle(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut at_start = true;
    for c in v.chars() {
        if at_start {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        at_start = c.is_whitespace();
    }
    out
}

fn indent(name: &str, n: i64, v: &str) -> Result<String, TemplateError> {
    let pad = repeated(name, " ", n)?;
    let lines = v.matches('\n').count() + 1;
    if pad.len().saturating_mul(lines) + v.len() > MAX_STRING_BYTES {
        return Err(err(
            name,
            format!("the result would be longer than the {MAX_STRING_BYTES}-byte limit"),
        ));
    }
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

fn quote_go(v: &str) -> String {
    // Go's strconv.Quote for printable text.
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn regex(name: &str, pattern: &str) -> gotmpl::Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| err(name, e))
}

fn math(name: &'static str, f: fn(i64, i64) -> Option<i64>) -> impl Fn(&[Value]) -> R {
    move |args: &[Value]| {
        let mut iter = args.iter();
        let first = iter.next().ok_or_else(|| err(name, "needs arguments"))?;
        let mut acc = to_int(name, first)?;
        for a in iter {
            acc = f(acc, to_int(name, a)?).ok_or_else(|| err(name, "arithmetic error"))?;
        }
        Ok(Value::Int(acc))
    }
}

fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) => s.to_string().into(),
        Value::List(items) => items.iter().map(json_of).collect(),
        Value::Map(m) => m.iter().map(|(k, v)| (k.to_string(), json_of(v))).collect(),
        other => other.to_string().into(),
    }
}

/// The function map: sprig's commonly used functions plus a Go-faithful
/// `index`.
pub fn func_map() -> FuncMap {
    let mut m: FuncMap = BTreeMap::new();
    let mut add = |name: &str, f: gotmpl::ValueFunc| {
        m.insert(name.to_string(), f);
    };

    // index: as Go's builtin, but a missing map key yields "" (the zero value
    // of map[string]string, the only string-keyed map users index).
    add(
        "index",
        Arc::new(|args: &[Value]| {
            let (first, keys) = args
                .split_first()
                .ok_or_else(|| err("index", "needs arguments"))?;
            let mut val = first.clone();
            for key in keys {
                val = match (&val, key) {
                    (Value::Map(map), Value::String(k)) => {
                        map.get(k.as_ref()).cloned().unwrap_or_else(|| s(""))
                    }
                    _ => val.index(key)?,
                };
            }
            Ok(val)
        }),
    );

    // Strings.
    add("lower", Arc::new(str_fn(|v| v.to_lowercase())));
    add("upper", Arc::new(str_fn(|v| v.to_uppercase())));
    add("title", Arc::new(str_fn(title)));
    add("untitle", Arc::new(str_fn(untitle)));
    add("trim", Arc::new(str_fn(|v| v.trim().to_string())));
    add(
        "nospace",
        Arc::new(str_fn(|v| {
            v.chars().filter(|c| !c.is_whitespace()).collect()
        })),
    );
    add(
        "toString",
        Arc::new(|args: &[Value]| Ok(s(&args.last().map(to_str).unwrap_or_default()))),
    );
    add(
        "trimAll",
        Arc::new(str2_fn("trimAll", |cut, v| {
            s(v.trim_matches(|c| cut.contains(c)))
        })),
    );
    add(
        "trimPrefix",
        Arc::new(str2_fn("trimPrefix", |p, v| {
            s(v.strip_prefix(p).unwrap_or(v))
        })),
    );
    add(
        "trimSuffix",
        Arc::new(str2_fn("trimSuffix", |p, v| {
            s(v.strip_suffix(p).unwrap_or(v))
        })),
    );
    add(
        "contains",
        Arc::new(str2_fn("contains", |sub, v| Value::Bool(v.contains(sub)))),
    );
    add(
        "hasPrefix",
        Arc::new(str2_fn("hasPrefix", |p, v| Value::Bool(v.starts_with(p)))),
    );
    add(
        "hasSuffix",
        Arc::new(str2_fn("hasSuffix", |p, v| Value::Bool(v.ends_with(p)))),
    );
    add(
        "replace",
        Arc::new(|args: &[Value]| {
            arity("replace", args, 3)?;
            Ok(s(
                &to_str(&args[2]).replace(&to_str(&args[0]), &to_str(&args[1]))
            ))
        }),
    );
    add(
        "repeat",
        Arc::new(|args: &[Value]| {
            arity("repeat", args, 2)?;
            let n = to_int("repeat", &args[0])?;
            Ok(s(&repeated("repeat", &to_str(&args[1]), n)?))
        }),
    );
    add(
        "substr",
        Arc::new(|args: &[Value]| {
            arity("substr", args, 3)?;
            let v = to_str(&args[2]);
            let (start, end) = (to_int("substr", &args[0])?, to_int("substr", &args[1])?);
            let len = v.len() as i64;
            let start = if start < 0 { 0 } else { start.min(len) };
            let end = if end < 0 || end > len { len } else { end };
            Ok(s(v
                .get(start as usize..end.max(start) as usize)
                .unwrap_or("")))
        }),
    );
    add(
        "trunc",
        Arc::new(|args: &[Value]| {
            arity("trunc", args, 2)?;
            let v = to_str(&args[1]);
            let n = to_int("trunc", &args[0])?;
            let len = v.len() as i64;
            let out = if n < 0 {
                v.get((len + n).max(0) as usize..).unwrap_or(&v)
            } else {
                v.get(..(n.min(len)) as usize).unwrap_or(&v)
            };
            Ok(s(out))
        }),
    );
    add(
        "abbrev",
        Arc::new(|args: &[Value]| {
            arity("abbrev", args, 2)?;
            let v = to_str(&args[1]);
            let width = to_int("abbrev", &args[0])?;
            if width < 4 || (v.chars().count() as i64) <= width {
                return Ok(s(&v));
            }
            let keep: String = v.chars().take((width - 3) as usize).collect();
            Ok(s(&format!("{keep}...")))
        }),
    );
    add(
        "indent",
        Arc::new(|args: &[Value]| {
            arity("indent", args, 2)?;
            Ok(s(&indent(
                "indent",
                to_int("indent", &args[0])?,
                &to_str(&args[1]),
            )?))
        }),
    );
    add(
        "nindent",
        Arc::new(|args: &[Value]| {
            arity("nindent", args, 2)?;
            Ok(s(&format!(
                "\n{}",
                indent("nindent", to_int("nindent", &args[0])?, &to_str(&args[1]))?
            )))
        }),
    );
    add(
        "quote",
        Arc::new(|args: &[Value]| {
            let parts: Vec<String> = args
                .iter()
                .filter(|a| !matches!(a, Value::Nil))
                .map(|a| quote_go(&to_str(a)))
                .collect();
            Ok(s(&parts.join(" ")))
        }),
    );
    add(
        "squote",
        Arc::new(|args: &[Value]| {
            let parts: Vec<String> = args
                .iter()
                .filter(|a| !matches!(a, Value::Nil))
                .map(|a| format!("'{}'", to_str(a)))
                .collect();
            Ok(s(&parts.join(" ")))
        }),
    );
    add(
        "cat",
        Arc::new(|args: &[Value]| {
            let parts: Vec<String> = args
                .iter()
                .filter(|a| !matches!(a, Value::Nil))
                .map(to_str)
                .collect();
            Ok(s(&parts.join(" ")))
        }),
    );
    add(
        "splitList",
        Arc::new(str2_fn("splitList", |sep, v| {
            Value::List(v.split(sep).map(s).collect())
        })),
    );
    add(
        "join",
        Arc::new(|args: &[Value]| {
            arity("join", args, 2)?;
            let sep = to_str(&args[0]);
            let parts: Vec<String> = match &args[1] {
                Value::List(items) => items.iter().map(to_str).collect(),
                other => vec![to_str(other)],
            };
            Ok(s(&parts.join(&sep)))
        }),
    );

    // Lists.
    add(
        "list",
        Arc::new(|args: &[Value]| Ok(Value::List(args.iter().cloned().collect()))),
    );
    add(
        "first",
        Arc::new(|args: &[Value]| {
            arity("first", args, 1)?;
            Ok(to_list("first", &args[0])?
                .first()
                .cloned()
                .unwrap_or(Value::Nil))
        }),
    );
    add(
        "last",
        Arc::new(|args: &[Value]| {
            arity("last", args, 1)?;
            Ok(to_list("last", &args[0])?
                .last()
                .cloned()
                .unwrap_or(Value::Nil))
        }),
    );
    add(
        "rest",
        Arc::new(|args: &[Value]| {
            arity("rest", args, 1)?;
            Ok(Value::List(
                to_list("rest", &args[0])?.into_iter().skip(1).collect(),
            ))
        }),
    );
    add(
        "initial",
        Arc::new(|args: &[Value]| {
            arity("initial", args, 1)?;
            let mut l = to_list("initial", &args[0])?;
            l.pop();
            Ok(Value::List(l.into()))
        }),
    );
    add(
        "uniq",
        Arc::new(|args: &[Value]| {
            arity("uniq", args, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in to_list("uniq", &args[0])? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::List(out.into()))
        }),
    );
    add(
        "compact",
        Arc::new(|args: &[Value]| {
            arity("compact", args, 1)?;
            Ok(Value::List(
                to_list("compact", &args[0])?
                    .into_iter()
                    .filter(|v| !is_empty(v))
                    .collect(),
            ))
        }),
    );
    add(
        "sortAlpha",
        Arc::new(|args: &[Value]| {
            arity("sortAlpha", args, 1)?;
            let mut l: Vec<String> = to_list("sortAlpha", &args[0])?.iter().map(to_str).collect();
            l.sort();
            Ok(Value::List(l.iter().map(|x| s(x)).collect()))
        }),
    );
    add(
        "has",
        Arc::new(|args: &[Value]| {
            arity("has", args, 2)?;
            Ok(Value::Bool(to_list("has", &args[1])?.contains(&args[0])))
        }),
    );

    // Dicts.
    add(
        "dict",
        Arc::new(|args: &[Value]| {
            let mut m: BTreeMap<Arc<str>, Value> = BTreeMap::new();
            for pair in args.chunks(2) {
                let v = pair.get(1).cloned().unwrap_or_else(|| s(""));
                m.insert(Arc::from(to_str(&pair[0]).as_str()), v);
            }
            Ok(Value::Map(Arc::new(m)))
        }),
    );
    add(
        "get",
        Arc::new(|args: &[Value]| {
            arity("get", args, 2)?;
            match &args[0] {
                Value::Map(m) => Ok(m
                    .get(to_str(&args[1]).as_str())
                    .cloned()
                    .unwrap_or_else(|| s(""))),
                _ => Ok(s("")),
            }
        }),
    );
    add(
        "hasKey",
        Arc::new(|args: &[Value]| {
            arity("hasKey", args, 2)?;
            Ok(Value::Bool(
                matches!(&args[0], Value::Map(m) if m.contains_key(to_str(&args[1]).as_str())),
            ))
        }),
    );
    add(
        "keys",
        Arc::new(|args: &[Value]| {
            let mut out = Vec::new();
            for a in args {
                if let Value::Map(m) = a {
                    out.extend(m.keys().map(|k| Value::String(k.clone())));
                }
            }
            Ok(Value::List(out.into()))
        }),
    );

    // Defaults and flow.
    add(
        "default",
        Arc::new(|args: &[Value]| match args {
            [d] => Ok(d.clone()),
            [d, given] => Ok(if is_empty(given) {
                d.clone()
            } else {
                given.clone()
            }),
            _ => Err(err("default", "wants 1 or 2 arguments")),
        }),
    );
    add(
        "empty",
        Arc::new(|args: &[Value]| {
            arity("empty", args, 1)?;
            Ok(Value::Bool(is_empty(&args[0])))
        }),
    );
    add(
        "coalesce",
        Arc::new(|args: &[Value]| {
            Ok(args
                .iter()
                .find(|v| !is_empty(v))
                .cloned()
                .unwrap_or(Value::Nil))
        }),
    );
    add(
        "ternary",
        Arc::new(|args: &[Value]| {
            arity("ternary", args, 3)?;
            Ok(if args[2].is_truthy() {
                args[0].clone()
            } else {
                args[1].clone()
            })
        }),
    );
    add(
        "toJson",
        Arc::new(|args: &[Value]| {
            arity("toJson", args, 1)?;
            Ok(s(&json_of(&args[0]).to_string()))
        }),
    );

    // Regular expressions (Go RE2 syntax; Rust's regex is RE2-like).
    add(
        "regexMatch",
        Arc::new(|args: &[Value]| {
            arity("regexMatch", args, 2)?;
            Ok(Value::Bool(
                regex("regexMatch", &to_str(&args[0]))?.is_match(&to_str(&args[1])),
            ))
        }),
    );
    add(
        "regexFind",
        Arc::new(|args: &[Value]| {
            arity("regexFind", args, 2)?;
            let re = regex("regexFind", &to_str(&args[0]))?;
            Ok(s(re.find(&to_str(&args[1])).map_or("", |m| m.as_str())))
        }),
    );
    add(
        "regexReplaceAll",
        Arc::new(|args: &[Value]| {
            arity("regexReplaceAll", args, 3)?;
            let re = regex("regexReplaceAll", &to_str(&args[0]))?;
            Ok(s(
                &re.replace_all(&to_str(&args[1]), to_str(&args[2]).as_str())
            ))
        }),
    );
    add(
        "regexReplaceAllLiteral",
        Arc::new(|args: &[Value]| {
            arity("regexReplaceAllLiteral", args, 3)?;
            let re = regex("regexReplaceAllLiteral", &to_str(&args[0]))?;
            Ok(s(&re.replace_all(
                &to_str(&args[1]),
                regex::NoExpand(&to_str(&args[2])),
            )))
        }),
    );

    // Encoding.
    add(
        "b64enc",
        Arc::new(str_fn(|v| {
            base64::engine::general_purpose::STANDARD.encode(v)
        })),
    );
    add(
        "b64dec",
        Arc::new(|args: &[Value]| {
            let v = args.last().map(to_str).unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .map_err(|e| err("b64dec", e))?;
            Ok(s(&String::from_utf8_lossy(&bytes)))
        }),
    );

    // Integer math.
    add("add", Arc::new(math("add", i64::checked_add)));
    add("sub", Arc::new(math("sub", i64::checked_sub)));
    add("mul", Arc::new(math("mul", i64::checked_mul)));
    add("div", Arc::new(math("div", i64::checked_div)));
    add("mod", Arc::new(math("mod", i64::checked_rem)));
    add(
        "add1",
        Arc::new(|args: &[Value]| {
            arity("add1", args, 1)?;
            Ok(Value::Int(to_int("add1", &args[0])?.saturating_add(1)))
        }),
    );
    add("max", Arc::new(math("max", |a, b| Some(a.max(b)))));
    add("min", Arc::new(math("min", |a, b| Some(a.min(b)))));
    m
}

#[cfg(test)]
mod tests {
    use crate::template::{MessageTemplate, TemplateData};

    fn render(src: &str) -> String {
        MessageTemplate::parse("t", src)
            .expect("parse")
            .render(&TemplateData::default())
            .expect("render")
    }

    #[test]
    fn sprig_functions_follow_sprig_argument_order() {
        let cases = [
            (r#"{{ "Hello World" | lower }}"#, "hello world"),
            (r#"{{ "hello world" | title }}"#, "Hello World"),
            (r#"{{ "  x  " | trim }}"#, "x"),
            (r#"{{ "v1.2.3" | trimPrefix "v" }}"#, "1.2.3"),
            (r#"{{ "a-b-c" | replace "-" "_" }}"#, "a_b_c"),
            (
                r#"{{ list "b" "a" "b" | uniq | sortAlpha | join ", " }}"#,
                "a, b",
            ),
            (
                r#"{{ "abcdef" | trunc 3 }}|{{ "abcdef" | trunc -2 }}"#,
                "abc|ef",
            ),
            (
                r#"{{ "" | default "dflt" }}|{{ "x" | default "dflt" }}"#,
                "dflt|x",
            ),
            (r#"{{ "img:1.0" | quote }}"#, "\"img:1.0\""),
            (r#"{{ "a\nb" | indent 2 }}"#, "  a\n  b"),
            (
                r#"{{ regexReplaceAll ":.*$" "repo/app:1.2" "" }}"#,
                "repo/app",
            ),
            (
                r#"{{ contains "app" "my-app" }} {{ hasPrefix "my" "my-app" }}"#,
                "true true",
            ),
            (r#"{{ add 1 2 3 }} {{ sub 5 2 }}"#, "6 3"),
            (r#"{{ splitList "," "a,b" | last }}"#, "b"),
            (r#"{{ ternary "yes" "no" true }}"#, "yes"),
            (r#"{{ "abcdef" | substr 1 3 }}"#, "bc"),
            (r#"{{ dict "k" "v" | toJson }}"#, "{\"k\":\"v\"}"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src), want, "{src}");
        }
    }

    #[test]
    fn unknown_function_is_a_parse_error() {
        let err = MessageTemplate::parse("commit message", "{{ now }}").expect_err("undefined");
        assert!(err.to_string().contains("commit message"), "{err}");
    }
}
