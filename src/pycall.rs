//! Calls into Python by CPython's cheapest routes, for the per-request calls the engine
//! makes into libraries (pydantic's validators and serializers): a method called by
//! vectorcall with its keyword names made once, and a class attribute found the way an
//! instance's lookup finds it, without the metaclass's `__getattr__` machinery.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

extern "C" {
    // CPython's lookup through a type's MRO (its method cache), exported by every version
    // the engine builds for; no exception is set when the name is absent.
    fn _PyType_Lookup(ty: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// `name` as defined on `ty` or its bases (not bound, not through the metaclass): what
/// `instance.name` starts from.
pub fn class_attr<'py>(
    ty: &Bound<'py, PyType>,
    name: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyAny>> {
    // SAFETY: both are live objects and the GIL is held; the result is borrowed from the
    // type's dictionary and owned before anything else runs.
    unsafe {
        let found = _PyType_Lookup(ty.as_type_ptr(), name.as_ptr());
        Bound::from_borrowed_ptr_or_opt(ty.py(), found)
    }
}

/// How many arguments `call` passes from the stack; more are passed from a vector.
const STACK_ARGS: usize = 8;

/// `callable(*args)` by vectorcall: no argument tuple.
pub fn call<'a, 'py: 'a>(
    callable: &Bound<'py, PyAny>,
    args: impl Iterator<Item = &'a Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    // One slot before the arguments, which the callee may borrow (PY_VECTORCALL_ARGUMENTS_OFFSET).
    let mut stack = [std::ptr::null_mut::<ffi::PyObject>(); 1 + STACK_ARGS];
    let mut spilled = Vec::new();
    let mut count = 0;
    for arg in args {
        if count == STACK_ARGS {
            spilled.extend_from_slice(&stack);
        }
        match stack.get_mut(1 + count) {
            Some(slot) => *slot = arg.as_ptr(),
            None => spilled.push(arg.as_ptr()),
        }
        count += 1;
    }
    let slots = match spilled.is_empty() {
        true => stack.as_mut_ptr(),
        false => spilled.as_mut_ptr(),
    };
    // SAFETY: the `count` slots after the first hold live borrowed references while the call
    // runs, the first may be overwritten by the callee, and the GIL is held; the result is
    // a new reference or NULL with an exception set.
    unsafe {
        let result = ffi::PyObject_Vectorcall(
            callable.as_ptr(),
            slots.add(1),
            count | ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(callable.py(), result)
    }
}

/// `receiver.name(*args, **dict(zip(kwnames, kwargs)))` by vectorcall: no bound method, no
/// argument tuple or keyword dict. `kwnames` holds the keyword names (strings), made once.
pub fn call_method<'py>(
    receiver: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    args: &[&Bound<'py, PyAny>],
    kwnames: Option<&Bound<'py, PyTuple>>,
    kwargs: &[&Bound<'py, PyAny>],
) -> PyResult<Bound<'py, PyAny>> {
    debug_assert_eq!(kwnames.map_or(0, |names| names.len()), kwargs.len());
    const MOST: usize = 8;
    let count = 1 + args.len() + kwargs.len();
    assert!(count <= MOST, "call_method takes at most {MOST} arguments");
    let mut stack = [std::ptr::null_mut::<ffi::PyObject>(); MOST];
    stack[0] = receiver.as_ptr();
    for (slot, arg) in stack[1..].iter_mut().zip(args.iter().chain(kwargs)) {
        *slot = arg.as_ptr();
    }
    let positional = 1 + args.len();
    let kwnames = kwnames.map_or(std::ptr::null_mut(), |names| names.as_ptr());
    // SAFETY: `stack` holds `count` live borrowed references while the call runs, and the
    // GIL is held; the result is a new reference or NULL with an exception set.
    unsafe {
        let result =
            ffi::PyObject_VectorcallMethod(name.as_ptr(), stack.as_ptr(), positional, kwnames);
        Bound::from_owned_ptr_or_err(receiver.py(), result)
    }
}
