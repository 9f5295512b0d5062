//! Python object -> JSON bytes in one pass, without Python's `json` module.
//!
//! The output is byte-for-byte what FastAPI sends for a value returned by a
//! handler, that is
//! `json.dumps(jsonable_encoder(obj), ensure_ascii=False, allow_nan=False,
//! separators=(",", ":")).encode()`.
//! Exact builtin types are written straight from their Python objects;
//! the types `jsonable_encoder` converts (models, dataclasses, enums, dates,
//! UUIDs, decimals, ...) are converted the same way and written in turn; the
//! rest goes to a fallback registered from Python, normally
//! `ignyx.encoders.jsonable_encoder`.

use std::sync::Mutex;

use pyo3::exceptions::{PyRecursionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple, PyType,
};
use pyo3::{ffi, intern};

use crate::pycall::{call_method, class_attr};

/// Deepest nesting of containers and conversions before giving up.
const MAX_DEPTH: u32 = 255;

/// The Python callable used for types the writer does not know.
static FALLBACK: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// Appends the JSON encoding of `obj` to `out`; on error `out` is left as it was.
pub fn write_json(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let start = out.len();
    let result = write_value(obj, out, 0, true);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Returns the JSON encoding of `obj`.
pub fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_json(obj, &mut out)?;
    Ok(out)
}

/// `json_dumps(obj) -> bytes`: `obj` encoded the way FastAPI encodes a response.
#[pyfunction]
fn json_dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let out = dumps(obj)?;
    Ok(PyBytes::new(py, &out))
}

/// `set_json_fallback(fn)`: `fn(obj)` converts objects of unknown types into
/// JSON-ready ones; `None` removes it.
#[pyfunction]
#[pyo3(signature = (func))]
fn set_json_fallback(func: Option<Bound<'_, PyAny>>) -> PyResult<()> {
    if let Some(func) = &func {
        if !func.is_callable() {
            return Err(PyTypeError::new_err("the JSON fallback must be callable"));
        }
    }
    let new = func.map(Bound::unbind);
    let old = {
        let mut slot = FALLBACK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *slot, new)
    };
    // Dropped outside the lock: a `__del__` run by the drop may come back here.
    drop(old);
    Ok(())
}

/// Adds `json_dumps` and `set_json_fallback` to the extension module.
pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(json_dumps, m)?)?;
    m.add_function(wrap_pyfunction!(set_json_fallback, m)?)?;
    Ok(())
}

/// Types `jsonable_encoder` knows, imported once.
struct KnownTypes {
    datetime: Py<PyType>,
    date: Py<PyType>,
    time: Py<PyType>,
    timedelta: Py<PyType>,
    uuid: Py<PyType>,
    decimal: Py<PyType>,
    enum_: Py<PyType>,
    pure_path: Py<PyType>,
    asdict: Py<PyAny>,
}

static KNOWN_TYPES: GILOnceCell<KnownTypes> = GILOnceCell::new();
/// `pydantic.BaseModel`, or `None` when pydantic cannot be imported.
static BASE_MODEL: GILOnceCell<Option<Py<PyType>>> = GILOnceCell::new();
/// `("mode", "by_alias")`, the names of the arguments FastAPI gives `model_dump`.
static MODEL_DUMP_KWNAMES: GILOnceCell<Py<PyTuple>> = GILOnceCell::new();

fn known_types(py: Python<'_>) -> PyResult<&KnownTypes> {
    KNOWN_TYPES.get_or_try_init(py, || {
        let import_type = |module: &str, name: &str| -> PyResult<Py<PyType>> {
            Ok(py
                .import(module)?
                .getattr(name)?
                .downcast_into::<PyType>()?
                .unbind())
        };
        Ok(KnownTypes {
            datetime: import_type("datetime", "datetime")?,
            date: import_type("datetime", "date")?,
            time: import_type("datetime", "time")?,
            timedelta: import_type("datetime", "timedelta")?,
            uuid: import_type("uuid", "UUID")?,
            decimal: import_type("decimal", "Decimal")?,
            enum_: import_type("enum", "Enum")?,
            pure_path: import_type("pathlib", "PurePath")?,
            asdict: py.import("dataclasses")?.getattr("asdict")?.unbind(),
        })
    })
}

fn base_model(py: Python<'_>) -> Option<&Bound<'_, PyType>> {
    BASE_MODEL
        .get_or_init(py, || {
            let module = py.import("pydantic").ok()?;
            let model = module.getattr("BaseModel").ok()?;
            Some(model.downcast_into::<PyType>().ok()?.unbind())
        })
        .as_ref()
        .map(|model| model.bind(py))
}

/// `model.model_dump(mode="json", by_alias=True)`, as `jsonable_encoder` calls it. When
/// the model's class does not override it, what `BaseModel.model_dump` does (its
/// serializer's `to_python`) is called straight, without its Python frame.
fn dump_model<'py>(
    obj: &Bound<'py, PyAny>,
    ty: &Bound<'py, PyType>,
    model: &Bound<'py, PyType>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    // `mode="json", by_alias=True`.
    let names = MODEL_DUMP_KWNAMES.get_or_init(py, || {
        PyTuple::new(py, ["mode", "by_alias"])
            .expect("a tuple")
            .unbind()
    });
    let by_alias = PyBool::new(py, true);
    let kwargs = [intern!(py, "json").as_any(), by_alias.as_any()];
    let dump = class_attr(ty, intern!(py, "model_dump"));
    let plain = match (dump, model_dump(py, model)) {
        (Some(dump), Some(plain)) => dump.is(plain),
        _ => false,
    };
    if plain {
        if let Some(serializer) = class_attr(ty, intern!(py, "__pydantic_serializer__")) {
            let to_python = intern!(py, "to_python");
            return call_method(
                &serializer,
                to_python,
                &[obj],
                Some(names.bind(py)),
                &kwargs,
            );
        }
    }
    call_method(
        obj,
        intern!(py, "model_dump"),
        &[],
        Some(names.bind(py)),
        &kwargs,
    )
}

/// `BaseModel.model_dump`, the function.
fn model_dump<'py>(py: Python<'py>, model: &Bound<'py, PyType>) -> Option<&'py Bound<'py, PyAny>> {
    static MODEL_DUMP: GILOnceCell<Option<Py<PyAny>>> = GILOnceCell::new();
    MODEL_DUMP
        .get_or_init(py, || {
            class_attr(model, intern!(py, "model_dump")).map(Bound::unbind)
        })
        .as_ref()
        .map(|dump| dump.bind(py))
}

fn deeper(depth: u32) -> PyResult<u32> {
    if depth >= MAX_DEPTH {
        return Err(PyRecursionError::new_err(
            "maximum recursion depth exceeded while encoding a JSON object",
        ));
    }
    Ok(depth + 1)
}

/// Writes `obj`. `fallback_ok` is false only for what the fallback itself
/// returned, so that a fallback returning an unknown type fails instead of
/// looping.
fn write_value(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    fallback_ok: bool,
) -> PyResult<()> {
    if let Ok(s) = obj.downcast_exact::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    if let Ok(i) = obj.downcast_exact::<PyInt>() {
        return write_int(out, i);
    }
    if let Ok(dict) = obj.downcast_exact::<PyDict>() {
        return write_dict(dict, out, depth);
    }
    if let Ok(list) = obj.downcast_exact::<PyList>() {
        return write_array(list.iter().map(Ok), out, depth);
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    if let Ok(b) = obj.downcast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        return Ok(());
    }
    if let Ok(f) = obj.downcast_exact::<PyFloat>() {
        return write_float(out, f.value());
    }
    if let Ok(tuple) = obj.downcast_exact::<PyTuple>() {
        return write_array(tuple.iter().map(Ok), out, depth);
    }
    write_other(obj, out, depth, fallback_ok)
}

/// Everything but the exact builtin types, in `jsonable_encoder`'s order.
fn write_other(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    fallback_ok: bool,
) -> PyResult<()> {
    let py = obj.py();
    let types = known_types(py)?;
    let ty = obj.get_type_ptr().cast::<ffi::PyObject>();

    // Exact instances of the types `jsonable_encoder` looks up in its table
    // cannot match any of its earlier checks, so they skip the isinstance calls.
    if ty == types.uuid.as_ptr() {
        return write_uuid(obj, out);
    }
    if let Ok(bytes) = obj.downcast_exact::<PyBytes>() {
        if let Ok(s) = std::str::from_utf8(bytes.as_bytes()) {
            write_str(out, s);
            return Ok(());
        }
    }
    if obj.is_exact_instance_of::<PySet>() || obj.is_exact_instance_of::<PyFrozenSet>() {
        return write_array(obj.try_iter()?, out, depth);
    }
    if [
        &types.datetime,
        &types.date,
        &types.time,
        &types.timedelta,
        &types.decimal,
    ]
    .iter()
    .any(|known| known.as_ptr() == ty)
    {
        if let Some(converted) = table_encoded(obj, types)? {
            return write_value(&converted, out, deeper(depth)?, true);
        }
    }

    if let Some(converted) = model_like(obj, types)? {
        return write_value(&converted, out, deeper(depth)?, true);
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    if let Ok(i) = obj.downcast::<PyInt>() {
        return write_int(out, i);
    }
    if let Ok(f) = obj.downcast::<PyFloat>() {
        return write_float(out, f.value());
    }
    if obj.is_instance_of::<PyDict>() {
        return write_dict_items(obj, out, depth);
    }
    if obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
        || obj.is_instance_of::<PySet>()
        || obj.is_instance_of::<PyFrozenSet>()
    {
        return write_array(obj.try_iter()?, out, depth);
    }
    if let Some(converted) = table_encoded(obj, types)? {
        return write_value(&converted, out, deeper(depth)?, true);
    }
    if fallback_ok {
        if let Some(converted) = call_fallback(obj)? {
            return write_value(&converted, out, deeper(depth)?, false);
        }
    }
    Err(PyTypeError::new_err(format!(
        "Object of type {} is not JSON serializable",
        obj.get_type().name()?
    )))
}

/// `jsonable_encoder`'s first rules: pydantic models, dataclasses, enums, paths.
fn model_like<'py>(
    obj: &Bound<'py, PyAny>,
    types: &KnownTypes,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    if let Some(model) = base_model(py) {
        let ty = obj.get_type();
        // A real subclass is found without `ModelMetaclass.__instancecheck__`.
        // SAFETY: two live type objects, the GIL held.
        let real = unsafe { ffi::PyType_IsSubtype(ty.as_type_ptr(), model.as_type_ptr()) != 0 };
        if real || obj.is_instance(model)? {
            return dump_model(obj, &ty, model).map(Some);
        }
    }
    if !obj.is_instance_of::<PyType>()
        && obj
            .get_type()
            .hasattr(intern!(py, "__dataclass_fields__"))?
    {
        return Ok(Some(types.asdict.bind(py).call1((obj,))?));
    }
    if obj.is_instance(types.enum_.bind(py))? {
        return Ok(Some(obj.getattr(intern!(py, "value"))?));
    }
    if obj.is_instance(types.pure_path.bind(py))? {
        return Ok(Some(obj.str()?.into_any()));
    }
    Ok(None)
}

/// `jsonable_encoder`'s table of per-type encoders, for the types handled here.
fn table_encoded<'py>(
    obj: &Bound<'py, PyAny>,
    types: &KnownTypes,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    if obj.is_instance_of::<PyBytes>() {
        return Ok(Some(obj.call_method0(intern!(py, "decode"))?));
    }
    // `datetime` is a subclass of `date`.
    if obj.is_instance(types.date.bind(py))? || obj.is_instance(types.time.bind(py))? {
        return Ok(Some(obj.call_method0(intern!(py, "isoformat"))?));
    }
    if obj.is_instance(types.timedelta.bind(py))? {
        return Ok(Some(obj.call_method0(intern!(py, "total_seconds"))?));
    }
    if obj.is_instance(types.decimal.bind(py))? {
        return decimal_to_number(obj).map(Some);
    }
    if obj.is_instance(types.uuid.bind(py))? {
        return Ok(Some(obj.str()?.into_any()));
    }
    Ok(None)
}

/// FastAPI's `decimal_encoder`: `int` when the exponent is a non-negative
/// integer, `float` otherwise.
fn decimal_to_number<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let exponent = obj
        .call_method0(intern!(py, "as_tuple"))?
        .getattr(intern!(py, "exponent"))?;
    let integral = exponent.is_instance_of::<PyInt>() && exponent.ge(0)?;
    if integral {
        py.get_type::<PyInt>().call1((obj,))
    } else {
        py.get_type::<PyFloat>().call1((obj,))
    }
}

fn call_fallback<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    let func = {
        let slot = FALLBACK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref().map(|func| func.clone_ref(py))
    };
    match func {
        Some(func) => Ok(Some(func.bind(py).call1((obj,))?)),
        None => Ok(None),
    }
}

fn write_array<'py>(
    items: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
    out: &mut Vec<u8>,
    depth: u32,
) -> PyResult<()> {
    let depth = deeper(depth)?;
    out.push(b'[');
    let mut first = true;
    for item in items {
        if !first {
            out.push(b',');
        }
        first = false;
        write_value(&item?, out, depth, true)?;
    }
    out.push(b']');
    Ok(())
}

/// `jsonable_encoder` drops string keys starting with `_sa` (SQLAlchemy state).
fn is_sqlalchemy_key(key: &str) -> bool {
    key.starts_with("_sa")
}

/// Writes an exact dict, walking it in insertion order with `PyDict_Next`.
fn write_dict(dict: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: u32) -> PyResult<()> {
    let depth = deeper(depth)?;
    let py = dict.py();
    let len = dict.len();
    out.push(b'{');
    let mut first = true;
    let mut pos: ffi::Py_ssize_t = 0;
    loop {
        let mut key_ptr: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value_ptr: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: the GIL is held and `dict` is a live dict. PyDict_Next re-reads
        // the dict's table on every call, so it stays in bounds even if Python code
        // run below changed the dict; on success both pointers are valid borrowed
        // references, made owned at once so that such code cannot free them.
        let (key, value) = unsafe {
            if ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key_ptr, &mut value_ptr) == 0 {
                break;
            }
            (
                Bound::from_borrowed_ptr(py, key_ptr),
                Bound::from_borrowed_ptr(py, value_ptr),
            )
        };
        write_entry(&key, &value, out, depth, &mut first)?;
        if dict.len() != len {
            return Err(PyRuntimeError::new_err(
                "dictionary changed size during iteration",
            ));
        }
    }
    out.push(b'}');
    Ok(())
}

/// Writes a dict subclass through its own `items()`, as `jsonable_encoder` does.
fn write_dict_items(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: u32) -> PyResult<()> {
    let depth = deeper(depth)?;
    let items = obj.call_method0(intern!(obj.py(), "items"))?;
    out.push(b'{');
    let mut first = true;
    for item in items.try_iter()? {
        let (key, value) = item?.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
        write_entry(&key, &value, out, depth, &mut first)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_entry(
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    first: &mut bool,
) -> PyResult<()> {
    let mut exact_str_key = None;
    if let Ok(s) = key.downcast::<PyString>() {
        let Ok(text) = s.to_str() else {
            // Lone surrogates: written escaped by `write_key`.
            if !*first {
                out.push(b',');
            }
            *first = false;
            write_pystr(out, s)?;
            out.push(b':');
            return write_value(value, out, depth, true);
        };
        if is_sqlalchemy_key(text) {
            return Ok(());
        }
        if key.is_exact_instance_of::<PyString>() {
            exact_str_key = Some(text);
        }
    }
    if !*first {
        out.push(b',');
    }
    *first = false;
    match exact_str_key {
        Some(text) => write_str(out, text),
        None => write_key(key, out, depth, true)?,
    }
    out.push(b':');
    write_value(value, out, depth, true)
}

/// Writes a dict key as a JSON string: the key `jsonable_encoder` would make,
/// then `json.dumps`'s rules for str, int, float, bool and None keys.
fn write_key(
    key: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    fallback_ok: bool,
) -> PyResult<()> {
    if let Ok(s) = key.downcast_exact::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    if key.is_exact_instance_of::<PyInt>()
        || key.is_exact_instance_of::<PyFloat>()
        || key.is_instance_of::<PyBool>()
        || key.is_none()
    {
        return write_scalar_key(key, out);
    }
    let types = known_types(key.py())?;
    if let Some(converted) = model_like(key, types)? {
        return write_key(&converted, out, deeper(depth)?, true);
    }
    if key.is_instance_of::<PyString>()
        || key.is_instance_of::<PyInt>()
        || key.is_instance_of::<PyFloat>()
    {
        return write_scalar_key(key, out);
    }
    let is_container = key.is_instance_of::<PyDict>()
        || key.is_instance_of::<PyList>()
        || key.is_instance_of::<PyTuple>()
        || key.is_instance_of::<PySet>()
        || key.is_instance_of::<PyFrozenSet>();
    if !is_container {
        if let Some(converted) = table_encoded(key, types)? {
            return write_key(&converted, out, deeper(depth)?, true);
        }
        if fallback_ok {
            if let Some(converted) = call_fallback(key)? {
                return write_key(&converted, out, deeper(depth)?, false);
            }
        }
    }
    Err(PyTypeError::new_err(format!(
        "keys must be str, int, float, bool or None, not {}",
        key.get_type().name()?
    )))
}

/// A str, int, float, bool or None key (subclasses included), quoted.
fn write_scalar_key(key: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(s) = key.downcast::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    out.push(b'"');
    if let Ok(f) = key.downcast::<PyFloat>() {
        write_float(out, f.value())?;
    } else if let Ok(b) = key.downcast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = key.downcast::<PyInt>() {
        write_int(out, i)?;
    } else {
        out.extend_from_slice(b"null");
    }
    out.push(b'"');
    Ok(())
}

fn write_int(out: &mut Vec<u8>, int: &Bound<'_, PyInt>) -> PyResult<()> {
    if let Ok(value) = int.extract::<i64>() {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        return Ok(());
    }
    // `int.__repr__` rather than `str()`: subclasses may override the latter.
    let digits = int
        .py()
        .get_type::<PyInt>()
        .call_method1(intern!(int.py(), "__repr__"), (int,))?;
    out.extend_from_slice(digits.downcast_into::<PyString>()?.to_str()?.as_bytes());
    Ok(())
}

/// `str(uuid)` without the Python-level `UUID.__str__`.
fn write_uuid(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let value = obj.getattr(intern!(obj.py(), "int"))?.extract::<u128>()?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push(b'-');
        }
        let nibble = (value >> (124 - 4 * i)) & 0xf;
        out.push(HEX[nibble as usize]);
    }
    out.push(b'"');
    Ok(())
}

/// For each byte: 0 when it is written as is, otherwise the character after
/// the backslash (`u` for the `\u00XX` form).
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Writes a Python str; one holding lone surrogates (which UTF-8 cannot carry, e.g.
/// from a `"\\ud800"` escape in request JSON) gets them as `\\uXXXX` escapes, so such
/// input never turns into a 500.
fn write_pystr(out: &mut Vec<u8>, s: &Bound<'_, PyString>) -> PyResult<()> {
    if let Ok(text) = s.to_str() {
        write_str(out, text);
        return Ok(());
    }
    let encoded = s.call_method1(intern!(s.py(), "encode"), ("utf-8", "surrogatepass"))?;
    let encoded = encoded.downcast_into::<PyBytes>()?;
    let bytes = encoded.as_bytes();
    out.push(b'"');
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        // "surrogatepass" writes U+D800..U+DFFF as ED A0..BF xx; nothing else starts so.
        if bytes[i] == 0xED && i + 2 < bytes.len() && bytes[i + 1] >= 0xA0 {
            write_str_body(out, &bytes[start..i]);
            let code = ((u32::from(bytes[i]) & 0x0F) << 12)
                | ((u32::from(bytes[i + 1]) & 0x3F) << 6)
                | (u32::from(bytes[i + 2]) & 0x3F);
            out.extend_from_slice(format!("\\u{code:04x}").as_bytes());
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    write_str_body(out, &bytes[start..]);
    out.push(b'"');
    Ok(())
}

/// Writes `s` as a JSON string with `ensure_ascii=False`: non-ASCII stays raw
/// UTF-8, and only quotes, backslashes and control characters are escaped.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    write_str_body(out, s.as_bytes());
    out.push(b'"');
}

/// The escaped inside of a JSON string, from UTF-8 bytes.
fn write_str_body(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let plain = plain_prefix(bytes);
    if plain == bytes.len() {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate().skip(plain) {
        let escape = ESCAPES[byte as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// How many leading bytes of `bytes` need no escape, read 8 at a time: all of them for most
/// strings (then written in one copy), else up to the first word that holds an escape.
fn plain_prefix(bytes: &[u8]) -> usize {
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    let mut plain = 0;
    for chunk in bytes.chunks_exact(8) {
        if needs_escape(word(chunk)) {
            return plain;
        }
        plain += 8;
    }
    let tail = bytes.len() - plain;
    if tail == 0 {
        return plain;
    }
    // The last bytes: the last 8 of the string (some read twice), or, in a shorter string,
    // its bytes padded with spaces, which need no escape.
    let last = match bytes.len() {
        8.. => word(&bytes[bytes.len() - 8..]),
        _ => (0..8).fold(0, |acc, i| {
            let byte = bytes.get(i).copied().unwrap_or(b' ');
            acc | u64::from(byte) << (8 * i)
        }),
    };
    if needs_escape(last) {
        plain
    } else {
        bytes.len()
    }
}

/// Whether one of the 8 bytes of `word` must be escaped: a control character, `"` or `\\`.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `word` is below `n` (exact for n <= 128).
    let has_below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS != 0;
    let has_byte = |word: u64, byte: u8| has_below(word ^ (ONES * u64::from(byte)), 1);
    has_below(word, 0x20) || has_byte(word, b'"') || has_byte(word, b'\\')
}

/// Writes `value` as Python's `repr(float)` does; NaN and infinities are errors.
fn write_float(out: &mut Vec<u8>, value: f64) -> PyResult<()> {
    if !value.is_finite() {
        return Err(PyValueError::new_err(
            "Out of range float values are not JSON compliant",
        ));
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return Ok(());
    }
    let mut buffer = ryu::Buffer::new();
    let shortest = ShortestDigits::parse(buffer.format_finite(value).as_bytes());
    shortest.write_python_repr(out);
    Ok(())
}

/// A nonzero float's shortest round-trip digits: `0.d1d2... * 10**point`.
struct ShortestDigits {
    negative: bool,
    digits: [u8; 32],
    len: usize,
    point: i32,
}

impl ShortestDigits {
    /// Reads ryu's output (`1.5e-7`, `0.0001`, `123.0`, `1e16`, ...).
    fn parse(text: &[u8]) -> Self {
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let (mantissa, exponent) = match text.iter().position(|&c| c == b'e') {
            Some(e) => (&text[..e], parse_exponent(&text[e + 1..])),
            None => (text, 0),
        };
        let mut digits = [0u8; 32];
        let mut len = 0;
        let mut integer_digits = 0i32;
        let mut seen_point = false;
        for &c in mantissa {
            if c == b'.' {
                seen_point = true;
                continue;
            }
            // Leading zeros only shift the decimal point.
            if len == 0 && c == b'0' {
                if seen_point {
                    integer_digits -= 1;
                }
                continue;
            }
            if len < digits.len() {
                digits[len] = c;
                len += 1;
            }
            if !seen_point {
                integer_digits += 1;
            }
        }
        while len > 1 && digits[len - 1] == b'0' {
            len -= 1;
        }
        Self {
            negative,
            digits,
            len,
            point: integer_digits + exponent,
        }
    }

    /// Python's `float_repr_style = 'short'`: positional when
    /// `-4 < point <= 16`, else `d.ddde+XX` with a sign and at least two digits.
    fn write_python_repr(&self, out: &mut Vec<u8>) {
        let digits = &self.digits[..self.len];
        if self.negative {
            out.push(b'-');
        }
        let point = self.point;
        if point > -4 && point <= 16 {
            if point <= 0 {
                out.extend_from_slice(b"0.");
                out.resize(out.len() + point.unsigned_abs() as usize, b'0');
                out.extend_from_slice(digits);
            } else if (point as usize) < digits.len() {
                let (integer, fraction) = digits.split_at(point as usize);
                out.extend_from_slice(integer);
                out.push(b'.');
                out.extend_from_slice(fraction);
            } else {
                out.extend_from_slice(digits);
                out.resize(out.len() + (point as usize - digits.len()), b'0');
                out.extend_from_slice(b".0");
            }
        } else {
            if let Some((first, rest)) = digits.split_first() {
                out.push(*first);
                if !rest.is_empty() {
                    out.push(b'.');
                    out.extend_from_slice(rest);
                }
            }
            let exponent = point - 1;
            out.push(b'e');
            out.push(if exponent < 0 { b'-' } else { b'+' });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                out.push(b'0');
            }
            out.extend_from_slice(itoa::Buffer::new().format(magnitude).as_bytes());
        }
    }
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + i32::from(c.wrapping_sub(b'0')));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests;
