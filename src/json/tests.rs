use std::ffi::CString;

use pyo3::exceptions::PyValueError;
use pyo3::types::PyModule;

use super::*;

/// Imports, and the classes the tests encode. `fastapi_bytes` is the
/// reference: what FastAPI itself sends for a returned value.
const PRELUDE: &str = r#"
import collections, dataclasses, datetime, decimal, enum, glob, json, os, pathlib, site, sys, uuid

venv = os.environ.get("VIRTUAL_ENV")
if venv:
    for path in glob.glob(os.path.join(venv, "lib", "python*", "site-packages")):
        sys.path.insert(0, path)
        site.addsitedir(path)

import pydantic
from fastapi.encoders import jsonable_encoder

def fastapi_bytes(obj):
    return json.dumps(
        jsonable_encoder(obj), ensure_ascii=False, allow_nan=False, indent=None,
        separators=(",", ":"),
    ).encode("utf-8")

def plain_bytes(obj):
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

class Color(enum.Enum):
    RED = "red"
    GREEN = 2

class Level(enum.IntEnum):
    LOW = 1

class Mood(str, enum.Enum):
    HAPPY = "happy"

class Address(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)
    street_name: str = pydantic.Field(alias="streetName")

class User(pydantic.BaseModel):
    id: uuid.UUID
    name: str
    created: datetime.datetime
    address: Address
    tags: list[str]
    score: float
    price: decimal.Decimal
    color: Color
    extra: dict[str, int] = {}

@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str = "p"
    day: datetime.date = datetime.date(2024, 2, 29)

@dataclasses.dataclass
class Segment:
    a: Point
    b: Point

class Text(str):
    def __str__(self):
        return "nope"

class Big(int):
    def __repr__(self):
        return "nope"
    __str__ = __repr__

class Ratio(float):
    def __repr__(self):
        return "nope"

class Opaque:
    pass

def user():
    return User(
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        name="Zoë \"the\" <admin>\n",
        created=datetime.datetime(2024, 1, 2, 3, 4, 5, 6789, tzinfo=datetime.timezone.utc),
        address=Address(street_name="Rue de l'Église"),
        tags=["a", "b"],
        score=0.1,
        price=decimal.Decimal("12.50"),
        color=Color.GREEN,
        extra={"z": 1, "a": 2},
    )
"#;

fn scope(py: Python<'_>) -> Bound<'_, PyDict> {
    let globals = PyDict::new(py);
    let code = CString::new(PRELUDE).expect("prelude has no NUL");
    py.run(&code, Some(&globals), None)
        .unwrap_or_else(|e| panic!("prelude failed: {e}"));
    globals
}

fn with_scope(test: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyDict>)) {
    pyo3::prepare_freethreaded_python();
    Python::with_gil(|py| test(py, &scope(py)));
}

fn eval<'py>(py: Python<'py>, scope: &Bound<'py, PyDict>, expr: &str) -> Bound<'py, PyAny> {
    let code = CString::new(expr).expect("expression has no NUL");
    py.eval(&code, Some(scope), None)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn encode(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) -> PyResult<String> {
    let bytes = dumps(&eval(py, scope, expr))?;
    Ok(String::from_utf8(bytes).expect("output is UTF-8"))
}

/// Asserts that `expr` encodes exactly as FastAPI encodes it.
fn assert_like_fastapi(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) {
    let expected = eval(py, scope, &format!("fastapi_bytes({expr}).decode()"));
    let expected: String = expected.extract().expect("str");
    let actual = encode(py, scope, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(actual, expected, "{expr}");
}

/// Asserts that `expr` encodes exactly as `json.dumps` (FastAPI's separators, no ASCII
/// escaping) encodes it.
fn assert_like_json_dumps(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) {
    let expected = eval(py, scope, &format!("plain_bytes({expr}).decode()"));
    let expected: String = expected.extract().expect("str");
    assert_eq!(encode(py, scope, expr).expect(expr), expected, "{expr}");
}

fn assert_json(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str, expected: &str) {
    let actual = encode(py, scope, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(actual, expected, "{expr}");
}

fn error_of(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) -> PyErr {
    match encode(py, scope, expr) {
        Ok(json) => panic!("{expr} encoded as {json}, expected an error"),
        Err(err) => err,
    }
}

#[test]
fn test_builtin_values_match_json_dumps() {
    with_scope(|py, scope| {
        for expr in [
            "None",
            "True",
            "False",
            "0",
            "-1",
            "2**63 - 1",
            "-2**63",
            "2**63",
            "-2**64 - 1",
            "10**100",
            "-(10**200)",
            "''",
            "'plain ascii'",
            "[]",
            "{}",
            "()",
            "[1, 'a', None, True, 2.5, [], {}, [[[]]]]",
            "(1, (2, (3,)))",
            "{'b': 1, 'a': [1, 2, {'c': None}], 'é': {'ß': 'ü'}}",
            "{'z': 1, 'a': 2, 'm': 3}",
            "{1: 'int', 2.5: 'float', True: 'bool', None: 'none', 'x': 'str'}",
            "{-5: 1, 10**30: 2, 1e16: 3, 1e-7: 4, 0.1: 5, False: 6}",
            "[0.0, -0.0, 1.0, -1.5, 1e16, 1e-5, 123456789.125, 5e-324, 1.7976931348623157e308]",
        ] {
            assert_like_json_dumps(py, scope, expr);
            assert_like_fastapi(py, scope, expr);
        }
    });
}

#[test]
fn test_strings_escape_like_json_dumps() {
    with_scope(|py, scope| {
        for expr in [
            "''.join(map(chr, range(0x80)))",
            "'quote \" backslash \\\\ slash /'",
            "'\\x7f \\x80 \\xa0 \\u2028 \\u2029 \\ufeff'",
            "'Zoë 日本語 🎉 \\U0010ffff'",
            "'tail control\\x1f'",
            "'\\x00'",
            "'é' * 1000 + '\\n'",
        ] {
            assert_like_json_dumps(py, scope, expr);
        }
        // Strings are read 8 bytes at a time until a word needs an escape: each escaped
        // character at each place, and words of multi-byte characters.
        for escaped in ["\\x00", "\\x1f", "\\n", "\\\"", "\\\\", "\\x7f", "é"] {
            // Long strings (whole words, then the last 8 bytes read again) and short ones
            // (padded): the escape at each place.
            for len in (1..=17).chain([20]) {
                for at in 0..len {
                    let expr = format!("'a' * {at} + '{escaped}' + 'b' * ({len} - 1 - {at})");
                    assert_like_json_dumps(py, scope, &expr);
                }
            }
        }
        for expr in [
            "'\\x80\\x9f\\xff' * 8",
            "'日本語🎉' * 5 + '\\x1f'",
            "'\\x20\\x21\\x23\\x5b\\x5d' * 4",
        ] {
            assert_like_json_dumps(py, scope, expr);
        }
        assert_json(py, scope, "'\\b\\f\\n\\r\\t'", r#""\b\f\n\r\t""#);
        assert_json(py, scope, "'\\x01\\x1f\\x0b'", r#""\u0001\u001f\u000b""#);
        assert_json(py, scope, "'日本'", "\"日本\"");
    });
}

#[test]
fn test_lone_surrogates_are_written_as_escapes() {
    with_scope(|py, scope| {
        assert_json(py, scope, "'\\ud800'", "\"\\ud800\"");
        assert_json(
            py,
            scope,
            "['ok', 'a\\udfffb\"']",
            "[\"ok\",\"a\\udfffb\\\"\"]",
        );
        assert_json(py, scope, "{'\\ud800': 1}", "{\"\\ud800\":1}");
    });
}

#[test]
fn test_floats_match_repr() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.1, "0.1"),
        (0.30000000000000004, "0.30000000000000004"),
        (123.456, "123.456"),
        (100.0, "100.0"),
        (0.0001, "0.0001"),
        (0.00012, "0.00012"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e15, "1000000000000000.0"),
        (1234567890123456.8, "1234567890123456.8"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (12345678901234567.0, "1.2345678901234568e+16"),
        (-2.5e300, "-2.5e+300"),
        (1e100, "1e+100"),
        (1e-100, "1e-100"),
        (5e-324, "5e-324"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740993.0, "9007199254740992.0"),
        (1e22, "1e+22"),
        (1e23, "1e+23"),
        (0.5, "0.5"),
        (2.0 / 3.0, "0.6666666666666666"),
        (1e-4 * 3.0, "0.00030000000000000003"),
    ];
    for &(value, expected) in cases {
        let mut out = Vec::new();
        write_float(&mut out, value).expect("finite");
        assert_eq!(String::from_utf8_lossy(&out), expected, "{value:e}");
    }
}

#[test]
fn test_random_floats_match_repr() {
    with_scope(|py, scope| {
        let code = CString::new(
            r#"
import math, random, struct
rng = random.Random(20240229)
floats = []
while len(floats) < 200_000:
    value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    if math.isfinite(value):
        floats.append(value)
floats += [rng.uniform(-1e6, 1e6) for _ in range(50_000)]
floats += [round(rng.uniform(0, 1000), rng.randint(0, 6)) for _ in range(50_000)]
floats += [10.0 ** e for e in range(-323, 309)] + [2.0 ** e for e in range(-1074, 1024)]
floats += [x * 10.0 ** e for e in range(-8, 20) for x in (1, 1.5, 9.999999999999999, 0.1)]
"#,
        )
        .expect("no NUL");
        py.run(&code, Some(scope), None).expect("floats");
        let floats = eval(py, scope, "floats");
        for item in floats.try_iter().expect("iterable") {
            let item = item.expect("item");
            let expected: String = item.repr().expect("repr").extract().expect("str");
            let actual = String::from_utf8(dumps(&item).expect("finite")).expect("UTF-8");
            assert_eq!(actual, expected);
        }
    });
}

#[test]
fn test_non_finite_floats_are_rejected() {
    with_scope(|py, scope| {
        for expr in [
            "float('nan')",
            "[float('inf')]",
            "{'a': -float('inf')}",
            "{float('nan'): 1}",
            "decimal.Decimal('NaN')",
            "decimal.Decimal('-Infinity')",
        ] {
            let err = error_of(py, scope, expr);
            assert!(err.is_instance_of::<PyValueError>(py), "{expr}: {err}");
            assert_eq!(
                err.value(py).to_string(),
                "Out of range float values are not JSON compliant"
            );
        }
    });
}

#[test]
fn test_known_types_match_fastapi() {
    with_scope(|py, scope| {
        for expr in [
                "datetime.datetime(2024, 1, 2, 3, 4, 5)",
                "datetime.datetime(2024, 1, 2, 3, 4, 5, 123, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))",
                "datetime.date(1999, 12, 31)",
                "datetime.time(23, 59, 1, 500)",
                "datetime.timedelta(days=1, seconds=3, microseconds=7)",
                "datetime.timedelta(0)",
                "datetime.timedelta(days=-2, microseconds=1)",
                "uuid.UUID('12345678-1234-5678-1234-567812345678')",
                "uuid.UUID(int=0)",
                "uuid.UUID(int=2**128 - 1)",
                "uuid.UUID(int=0x0123456789ABCDEF0FEDCBA987654321)",
                "decimal.Decimal('12.50')",
                "decimal.Decimal('12')",
                "decimal.Decimal('1E+5')",
                "decimal.Decimal('-0.000001')",
                "decimal.Decimal('123456789012345678901234567890')",
                "Color.RED",
                "Color.GREEN",
                "Level.LOW",
                "Mood.HAPPY",
                "b'bytes \\xc3\\xa9'",
                "pathlib.PurePosixPath('/tmp/a b/c.txt')",
                "pathlib.Path('relative/file')",
                "{1, 2, 3}",
                "frozenset({'x'})",
                "set()",
                "user()",
                "[user(), user()]",
                "Address(street_name='x')",
                "Point(1, 2.5)",
                "Segment(Point(1, 2.0, 'a'), Point(3, 4.0, 'b'))",
                "{'when': datetime.date(2024, 1, 1), 'ids': [uuid.UUID(int=5)], 'who': user()}",
                "{Color.RED: 1, Level.LOW: 2, Mood.HAPPY: 3}",
                "{datetime.date(2024, 1, 1): 'day', uuid.UUID(int=1): 'id', decimal.Decimal('2'): 'two'}",
                "{b'key': 1, pathlib.PurePosixPath('p'): 2, decimal.Decimal('0.5'): 3}",
            ] {
                assert_like_fastapi(py, scope, expr);
            }
        assert_json(
            py,
            scope,
            "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)",
            r#""2024-01-02T03:04:05+00:00""#,
        );
        assert_json(
            py,
            scope,
            "datetime.timedelta(minutes=1, milliseconds=500)",
            "60.5",
        );
        assert_json(
            py,
            scope,
            "uuid.UUID('12345678-1234-5678-1234-567812345678')",
            r#""12345678-1234-5678-1234-567812345678""#,
        );
        assert_json(py, scope, "decimal.Decimal('12.50')", "12.5");
        assert_json(py, scope, "decimal.Decimal('1E+2')", "100");
        assert_json(py, scope, "[Color.RED, Level.LOW]", r#"["red",1]"#);
        assert_json(
            py,
            scope,
            "Segment(Point(1, 2.0), Point(3, 4.0, 'b'))",
            r#"{"a":{"x":1,"y":2.0,"label":"p","day":"2024-02-29"},"b":{"x":3,"y":4.0,"label":"b","day":"2024-02-29"}}"#,
        );
        assert_json(
            py,
            scope,
            "user()",
            concat!(
                r#"{"id":"12345678-1234-5678-1234-567812345678","name":"Zoë \"the\" <admin>\n","#,
                r#""created":"2024-01-02T03:04:05.006789Z","address":{"streetName":"Rue de l'Église"},"#,
                r#""tags":["a","b"],"score":0.1,"price":"12.50","color":2,"extra":{"z":1,"a":2}}"#
            ),
        );
    });
}

#[test]
fn test_subclasses_follow_jsonable_encoder() {
    with_scope(|py, scope| {
        let code = CString::new(
            "od = collections.OrderedDict(a=1, b=2, c=3)\nod.move_to_end('a')\n\
                 dd = collections.defaultdict(list, {'k': [Text('v')]})",
        )
        .expect("no NUL");
        py.run(&code, Some(scope), None).expect("setup");
        for expr in [
            "od",
            "dd",
            "Text('text')",
            "Big(7)",
            "Big(2**70)",
            "Ratio(0.25)",
            "{Text('k'): Big(1), Big(2): Ratio(1e20), Ratio(0.5): 1}",
            "[Text('a'), (Big(3),)]",
        ] {
            assert_like_fastapi(py, scope, expr);
        }
        assert_json(py, scope, "od", r#"{"b":2,"c":3,"a":1}"#);
        assert_json(py, scope, "Big(2**70)", "1180591620717411303424");
    });
}

#[test]
fn test_sqlalchemy_keys_are_dropped_like_fastapi() {
    with_scope(|py, scope| {
        let expr =
            "{'_sa_instance_state': object(), 'id': 1, '_sample': 2, '_s': 3, Text('_sa'): 4}";
        assert_like_fastapi(py, scope, expr);
        assert_json(py, scope, expr, r#"{"id":1,"_s":3}"#);
        assert_json(py, scope, "{'_sa': 1}", "{}");
    });
}

#[test]
fn test_unsupported_keys_are_type_errors() {
    with_scope(|py, scope| {
        let err = error_of(py, scope, "{(1, 2): 'tuple'}");
        assert!(err.is_instance_of::<PyTypeError>(py));
        assert_eq!(
            err.value(py).to_string(),
            "keys must be str, int, float, bool or None, not tuple"
        );
        let err = error_of(py, scope, "{frozenset(): 1}");
        assert!(err.is_instance_of::<PyTypeError>(py));
    });
}

#[test]
fn test_nesting_limit_is_a_recursion_error() {
    with_scope(|py, scope| {
        let code = CString::new(
            "def nested(depth):\n    \
                     value = []\n    \
                     for _ in range(depth - 1):\n        \
                         value = [value]\n    \
                     return value\n\
                 loop = []\n\
                 loop.append(loop)\n\
                 hub = {}\n\
                 hub['self'] = hub",
        )
        .expect("no NUL");
        py.run(&code, Some(scope), None).expect("setup");
        assert_like_fastapi(py, scope, "nested(255)");
        for expr in ["nested(256)", "loop", "hub"] {
            let err = error_of(py, scope, expr);
            assert!(err.is_instance_of::<PyRecursionError>(py), "{expr}: {err}");
        }
    });
}

#[test]
fn test_dict_resized_during_encoding_is_an_error() {
    with_scope(|py, scope| {
        let code = CString::new(
            "grow = {}\n\
                 class Grower(pydantic.BaseModel):\n    \
                     def model_dump(self, **kwargs):\n        \
                         grow['more'] = 1\n        \
                         return {}\n\
                 grow['first'] = Grower()",
        )
        .expect("no NUL");
        py.run(&code, Some(scope), None).expect("setup");
        let err = error_of(py, scope, "grow");
        assert!(err.is_instance_of::<PyRuntimeError>(py), "{err}");
    });
}

#[test]
fn test_error_leaves_output_untouched() {
    with_scope(|py, scope| {
        let mut out = b"prefix".to_vec();
        let obj = eval(py, scope, "[1, 2, float('nan')]");
        assert!(write_json(&obj, &mut out).is_err());
        assert_eq!(out, b"prefix");
        write_json(&eval(py, scope, "[1]"), &mut out).expect("encodes");
        assert_eq!(out, b"prefix[1]");
    });
}

/// The fallback is process-wide, so everything touching it lives here.
#[test]
fn test_fallback_handles_unknown_types() {
    with_scope(|py, scope| {
        set_json_fallback(None).expect("cleared");
        let err = error_of(py, scope, "Opaque()");
        assert!(err.is_instance_of::<PyTypeError>(py));
        assert_eq!(
            err.value(py).to_string(),
            "Object of type Opaque is not JSON serializable"
        );

        let not_callable = eval(py, scope, "42");
        assert!(set_json_fallback(Some(not_callable)).is_err());

        set_json_fallback(Some(eval(py, scope, "jsonable_encoder"))).expect("set");
        for expr in [
            "__import__('ipaddress').ip_address('127.0.0.1')",
            "collections.deque([1, datetime.date(2020, 1, 1)])",
            "{'re': __import__('re').compile('a+b')}",
            "[__import__('ipaddress').ip_network('10.0.0.0/8')]",
        ] {
            assert_like_fastapi(py, scope, expr);
        }
        assert_json(py, scope, "(i * 2 for i in range(3))", "[0,2,4]");

        set_json_fallback(Some(eval(py, scope, "lambda obj: obj"))).expect("set");
        let err = error_of(py, scope, "[Opaque()]");
        assert!(err.is_instance_of::<PyTypeError>(py), "{err}");
        let err = error_of(py, scope, "{Opaque(): 1}");
        assert!(err.is_instance_of::<PyTypeError>(py), "{err}");

        set_json_fallback(Some(eval(py, scope, "lambda obj: [obj]"))).expect("set");
        let err = error_of(py, scope, "Opaque()");
        assert!(err.is_instance_of::<PyRecursionError>(py), "{err}");

        set_json_fallback(None).expect("cleared");
    });
}

#[test]
fn test_module_functions_are_exposed() {
    with_scope(|py, scope| {
        let module = PyModule::new(py, "_core").expect("module");
        init(&module).expect("init");
        scope.set_item("core", module).expect("set");
        assert_json(
            py,
            scope,
            "core.json_dumps({'a': [1, 'é']}).decode()",
            r#""{\"a\":[1,\"é\"]}""#,
        );
        let bytes = eval(py, scope, "core.json_dumps({'a': [1, 'é']})");
        assert_eq!(
            bytes.downcast::<PyBytes>().expect("bytes").as_bytes(),
            "{\"a\":[1,\"é\"]}".as_bytes()
        );
    });
}
