//! Request coroutines, stepped from Rust: first in the request's connection task,
//! then during the event loop's passes.
//!
//! A request's coroutine is not wrapped in an `asyncio.Task`: a `CoroutineTask`
//! sends into it directly (`PyIter_Send`) as soon as the request arrives, so a
//! handler that never suspends is answered in that same call. While a step runs,
//! the task is the loop's current task (`asyncio.current_task()`, `asyncio.timeout`,
//! `TaskGroup` and anyio's cancel scopes work) inside the request's own copy of
//! the context. What the coroutine yields decides what happens next, as in
//! asyncio's Task: a bare `yield` (`asyncio.sleep(0)`) is resumed at once when
//! nothing else is ready to run before it, and otherwise waits its turn behind what
//! is; a future gets a done-callback that steps it again; `cancel()` cancels the
//! awaited future or throws `CancelledError` at the next step. Asyncio's cost per
//! request (a Task, two `Handle`s, two loop callbacks) is gone; the loop is involved
//! only when the coroutine awaits a real future.

use std::collections::VecDeque;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::asyncio::{CancelledError, InvalidStateError};
use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{PyTraverseError, PyVisit};

extern "C" {
    // Declared here because pyo3-ffi 0.23 omits its return value (CPython 3.10+).
    fn PyIter_Send(
        iter: *mut ffi::PyObject,
        arg: *mut ffi::PyObject,
        presult: *mut *mut ffi::PyObject,
    ) -> c_int;
}

const PYGEN_RETURN: c_int = 0;
const PYGEN_NEXT: c_int = 1;

/// Who is told how a coroutine task ended: an HTTP exchange waiting for its reply.
pub trait Awaiter: Send + Sync {
    /// Takes the coroutine's outcome. Returns another coroutine when the outcome leads to
    /// one (an async exception handler): it goes on as a task with the same awaiter.
    fn settle<'py>(
        &self,
        py: Python<'py>,
        outcome: PyResult<Bound<'py, PyAny>>,
    ) -> Option<Bound<'py, PyAny>>;
}

/// What every task of one event loop shares.
pub struct Tasks {
    event_loop: Py<PyAny>,
    current: CurrentTask,
    /// Set while a pass steps its tasks (see `in_pass`).
    in_pass: AtomicBool,
    /// A step during the pass left its task in `_current_tasks` (see `in_pass`).
    left_current: AtomicBool,
    /// Tasks that yielded to the loop (`await asyncio.sleep(0)`), stepped next pass.
    ready: Mutex<VecDeque<Py<CoroutineTask>>>,
    /// The loop's deque of callbacks due now (`ready_queue()`), which asyncio never
    /// replaces.
    callbacks: Py<PyAny>,
    /// The flag a future raises when a task awaits it (`FUTURE_BLOCKING`).
    future_blocking: Py<PyString>,
}

impl Tasks {
    /// The tasks of `event_loop` (an `ignyx._asyncio_internals.DrivenLoop`).
    pub fn new(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Self>> {
        let internals = event_loop.py().import("ignyx._asyncio_internals")?;
        let registry = internals.call_method0("current_task_registry")?;
        let current = match registry.downcast_into::<PyDict>() {
            Ok(dict) => CurrentTask::Dict(dict.unbind()),
            Err(_) => CurrentTask::Calls {
                enter: internals.getattr("enter_task")?.unbind(),
                leave: internals.getattr("leave_task")?.unbind(),
            },
        };
        let future_blocking = internals.getattr("FUTURE_BLOCKING")?;
        Ok(Arc::new(Self {
            event_loop: event_loop.clone().unbind(),
            current,
            in_pass: AtomicBool::new(false),
            left_current: AtomicBool::new(false),
            ready: Mutex::new(VecDeque::new()),
            callbacks: event_loop.call_method0("ready_queue")?.unbind(),
            future_blocking: future_blocking.downcast_into::<PyString>()?.unbind(),
        }))
    }

    /// Starts `coro` for the request, in a copy of the current context, and runs it to its
    /// first suspension. A bare `yield` (`asyncio.sleep(0)`) is resumed at once, up to
    /// `turns` times, while nothing else is ready to run before it: asyncio would resume
    /// it next too, ahead of any I/O or timer.
    pub fn spawn(
        self: &Arc<Self>,
        py: Python<'_>,
        awaiter: Arc<dyn Awaiter>,
        coro: Bound<'_, PyAny>,
        turns: u32,
    ) {
        // SAFETY: returns a new reference, or NULL with an exception set.
        let copied = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) };
        let context = match copied {
            Ok(context) => context.unbind(),
            Err(err) => return settle(py, self, awaiter, Err(err)),
        };
        let task = CoroutineTask {
            tasks: self.clone(),
            awaiter,
            context,
            state: Mutex::new(State {
                coro: Some(coro.unbind()),
                ..State::default()
            }),
        };
        match Bound::new(py, task) {
            Ok(task) => step_in(&task, None, false, turns),
            Err(err) => super::report(py, err),
        }
    }

    /// Runs `f`, which steps tasks (a request's first steps, or a pass's), leaving
    /// the loop's entry in `_current_tasks` alone between steps: each step sets it to its
    /// own task, and the entry is removed once, when `f` returns, before asyncio's own
    /// tasks (which need it absent) run. That spares the dict an insert and a delete per
    /// step. Between two steps, only the engine's glue runs (rendering a result, starting
    /// a background task, an error handler, which Starlette runs inside the request's task
    /// too), so a stale entry is never a task's view of itself.
    pub fn in_pass<R>(&self, py: Python<'_>, f: impl FnOnce() -> R) -> R {
        self.in_pass.store(true, Ordering::Relaxed);
        let result = f();
        self.in_pass.store(false, Ordering::Relaxed);
        if let CurrentTask::Dict(current) = &self.current {
            if self.left_current.swap(false, Ordering::Relaxed) {
                if let Err(err) = current.bind(py).del_item(self.event_loop.bind(py)) {
                    super::report(py, err);
                }
            }
        }
        result
    }

    /// Nothing is ready to run before a task that just yielded to the loop: no other task
    /// yielded, and asyncio has no callback due.
    fn nothing_else_ready(&self, py: Python<'_>) -> bool {
        self.queue().is_empty() && !self.has_callbacks(py)
    }

    /// `loop.call_soon(callback, arg, context=context)`.
    fn call_soon<'py>(
        &self,
        py: Python<'py>,
        callback: impl IntoPyObject<'py>,
        arg: impl IntoPyObject<'py>,
        context: impl IntoPyObject<'py>,
    ) -> PyResult<()> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("context", context)?;
        let event_loop = self.event_loop.bind(py);
        event_loop.call_method("call_soon", (callback, arg), Some(&kwargs))?;
        Ok(())
    }

    /// asyncio has callbacks due now.
    pub fn has_callbacks(&self, py: Python<'_>) -> bool {
        self.callbacks.bind(py).len().is_ok_and(|len| len > 0)
    }

    /// The `EngineLoop` these tasks run on.
    pub fn event_loop<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.event_loop.bind(py)
    }

    /// Makes `task` the loop's current task for a step.
    fn enter(&self, task: &Bound<'_, CoroutineTask>) -> PyResult<()> {
        let py = task.py();
        let event_loop = self.event_loop.bind(py);
        match &self.current {
            CurrentTask::Dict(current) => current.bind(py).set_item(event_loop, task),
            CurrentTask::Calls { enter, .. } => enter.bind(py).call1((event_loop, task)).map(drop),
        }
    }

    /// Ends a step: no current task again (during a pass, the entry is left for the next
    /// step to replace, see `in_pass`).
    fn leave(&self, task: &Bound<'_, CoroutineTask>) -> PyResult<()> {
        let py = task.py();
        let event_loop = self.event_loop.bind(py);
        match &self.current {
            CurrentTask::Dict(_) if self.in_pass.load(Ordering::Relaxed) => {
                self.left_current.store(true, Ordering::Relaxed);
                Ok(())
            }
            CurrentTask::Dict(current) => current.bind(py).del_item(event_loop),
            CurrentTask::Calls { leave, .. } => leave.bind(py).call1((event_loop, task)).map(drop),
        }
    }

    /// Steps the tasks that were ready when called (not those that yield again meanwhile).
    pub fn run_ready(&self, py: Python<'_>) {
        let ready = std::mem::take(&mut *self.queue());
        for task in ready {
            step(task.bind(py), None);
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.queue().is_empty()
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Py<CoroutineTask>>> {
        self.ready
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How a task is made the loop's current task for the length of a step.
enum CurrentTask {
    /// The dict `current_task()` reads (loop -> task, `current_task_registry()`): set
    /// directly, as `enter_task` / `leave_task` do, without their call overhead.
    Dict(Py<PyDict>),
    /// `_enter_task` / `_leave_task`, where the current task lives elsewhere.
    Calls { enter: Py<PyAny>, leave: Py<PyAny> },
}

#[derive(Default)]
struct State {
    /// None once the task is done.
    coro: Option<Py<PyAny>>,
    /// The future the coroutine awaits.
    waiter: Option<Py<PyAny>>,
    must_cancel: bool,
    cancel_message: Option<Py<PyAny>>,
    cancels_requested: u32,
    /// What the coroutine returned (or raised), once done.
    outcome: Option<Result<Py<PyAny>, Py<PyAny>>>,
    cancelled: bool,
    callbacks: Vec<(Py<PyAny>, Option<Py<PyAny>>)>,
    name: Option<Py<PyAny>>,
}

/// `ignyx._core.CoroutineTask`: what `asyncio.current_task()` returns inside a request.
#[pyclass(module = "ignyx._core", frozen, weakref)]
pub struct CoroutineTask {
    tasks: Arc<Tasks>,
    /// Who hears how the coroutine ended (the request waiting for its reply).
    awaiter: Arc<dyn Awaiter>,
    context: Py<PyAny>,
    state: Mutex<State>,
}

impl CoroutineTask {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one send (or throw) into the coroutine gave.
enum Sent<'py> {
    Yielded(Bound<'py, PyAny>),
    Returned(Bound<'py, PyAny>),
    Raised(PyErr),
}

/// Runs the coroutine until it suspends or ends; `throw` is thrown in instead of sending.
fn step(task: &Bound<'_, CoroutineTask>, throw: Option<Bound<'_, PyAny>>) {
    step_in(task, throw, false, 0)
}

/// `step`, for a caller already running in the task's context (a done-callback the loop
/// runs with `context=`) when `in_context`; `turns` as in `Tasks::spawn`.
fn step_in(
    task: &Bound<'_, CoroutineTask>,
    throw: Option<Bound<'_, PyAny>>,
    in_context: bool,
    mut turns: u32,
) {
    let py = task.py();
    let this = task.get();
    let (coro, throw) = {
        let mut state = this.state();
        let Some(coro) = state.coro.as_ref().map(|c| c.clone_ref(py)) else {
            return;
        };
        (coro.into_bound(py), take_cancel(py, &mut state).or(throw))
    };

    let tasks = &this.tasks;
    // SAFETY: the context is a live contextvars.Context; entering fails only when it is
    // already entered, which `in_context` rules out (a task's steps do not nest).
    if !in_context && unsafe { ffi::PyContext_Enter(this.context.as_ptr()) } != 0 {
        let err = PyErr::fetch(py);
        return done(task, Err(err));
    }
    let sent = match tasks.enter(task) {
        Err(err) => Sent::Raised(err),
        Ok(_) => {
            let mut sent = resume(&coro, throw);
            while turns > 0
                && matches!(&sent, Sent::Yielded(value) if value.is_none())
                && tasks.nothing_else_ready(py)
            {
                turns -= 1;
                // Taken first: the lock must not be held while the coroutine runs.
                let throw = take_cancel(py, &mut this.state());
                sent = resume(&coro, throw);
            }
            if let Err(err) = tasks.leave(task) {
                super::report(py, err);
            }
            sent
        }
    };
    // What follows runs in the task's context too: an async error handler started by
    // `done` copies it, so it sees the ContextVars the handler set.
    match sent {
        Sent::Returned(value) => done(task, Ok(value)),
        Sent::Raised(err) => done(task, Err(err)),
        Sent::Yielded(value) if value.is_none() => yield_turn(task),
        Sent::Yielded(value) => wait_for(task, value),
    }
    // SAFETY: exits the context entered above, on the same thread.
    if !in_context && unsafe { ffi::PyContext_Exit(this.context.as_ptr()) } != 0 {
        super::report(py, PyErr::fetch(py));
    }
}

/// The `CancelledError` to throw in at the next step, if `cancel()` asked for one.
fn take_cancel<'py>(py: Python<'py>, state: &mut State) -> Option<Bound<'py, PyAny>> {
    if !state.must_cancel {
        return None;
    }
    state.must_cancel = false;
    Some(cancelled_error(py, state.cancel_message.take()))
}

/// Sends `None` into the coroutine, or throws `throw` into it.
fn resume<'py>(coro: &Bound<'py, PyAny>, throw: Option<Bound<'py, PyAny>>) -> Sent<'py> {
    let py = coro.py();
    match throw {
        None => send_none(coro),
        Some(exc) => match coro.call_method1("throw", (exc,)) {
            Ok(value) => Sent::Yielded(value),
            Err(err) if err.is_instance_of::<PyStopIteration>(py) => {
                let value = err.value(py).getattr("value");
                Sent::Returned(value.unwrap_or_else(|_| py.None().into_bound(py)))
            }
            Err(err) => Sent::Raised(err),
        },
    }
}

fn send_none<'py>(coro: &Bound<'py, PyAny>) -> Sent<'py> {
    let py = coro.py();
    let mut result: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: `coro` is a live object; PyIter_Send stores a new reference in `result`
    // (the yielded or returned value), or NULL with an exception set on error.
    let status = unsafe { PyIter_Send(coro.as_ptr(), ffi::Py_None(), &mut result) };
    match status {
        // SAFETY: `result` is a new, non-NULL reference for these two outcomes.
        PYGEN_NEXT => Sent::Yielded(unsafe { Bound::from_owned_ptr(py, result) }),
        PYGEN_RETURN => Sent::Returned(unsafe { Bound::from_owned_ptr(py, result) }),
        _ => Sent::Raised(PyErr::fetch(py)),
    }
}

/// A bare `yield` (`asyncio.sleep(0)`): the task goes behind everything ready to run now.
/// While asyncio has callbacks due, that means asyncio's own queue; otherwise the engine's,
/// which the next pass steps before asyncio's iteration (and without a `Handle`).
fn yield_turn(task: &Bound<'_, CoroutineTask>) {
    let py = task.py();
    let this = task.get();
    let tasks = &this.tasks;
    if !tasks.has_callbacks(py) {
        return tasks.queue().push_back(task.clone().unbind());
    }
    let scheduled = task
        .getattr(pyo3::intern!(py, "_wakeup"))
        .and_then(|wakeup| tasks.call_soon(py, wakeup, py.None(), this.context.bind(py)));
    if let Err(err) = scheduled {
        done(task, Err(err));
    }
}

/// The coroutine awaits `value`: resume the task when that future is done. Called in the
/// task's context.
fn wait_for(task: &Bound<'_, CoroutineTask>, value: Bound<'_, PyAny>) {
    let py = task.py();
    let this = task.get();
    let flag = this.tasks.future_blocking.bind(py);
    let blocking = value
        .getattr(flag)
        .and_then(|b| b.is_truthy())
        .unwrap_or(false);
    if !blocking {
        let message = format!(
            "Task got bad yield: {}",
            value.repr().map(|r| r.to_string()).unwrap_or_default()
        );
        let err = PyRuntimeError::new_err(message)
            .into_value(py)
            .into_bound(py)
            .into_any();
        return step(task, Some(err));
    }
    let registered = (|| {
        value.setattr(flag, false)?;
        let wakeup = task.getattr(pyo3::intern!(py, "_wakeup"))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("context", this.context.bind(py))?;
        value.call_method("add_done_callback", (wakeup,), Some(&kwargs))?;
        PyResult::Ok(())
    })();
    if let Err(err) = registered {
        let exc = err.into_value(py).into_bound(py).into_any();
        return step_in(task, Some(exc), true, 0);
    }
    let cancel_now = {
        let mut state = this.state();
        state.waiter = Some(value.clone().unbind());
        state
            .must_cancel
            .then(|| state.cancel_message.as_ref().map(|m| m.clone_ref(py)))
    };
    // `cancel()` was called during the step: cancel what it now waits for instead.
    if let Some(message) = cancel_now {
        if cancel_future(&value, message.as_ref().map(|m| m.bind(py))) {
            this.state().must_cancel = false;
        }
    }
}

fn cancel_future(future: &Bound<'_, PyAny>, message: Option<&Bound<'_, PyAny>>) -> bool {
    let py = future.py();
    let kwargs = PyDict::new(py);
    if kwargs.set_item("msg", message).is_err() {
        return false;
    }
    future
        .call_method("cancel", (), Some(&kwargs))
        .and_then(|r| r.is_truthy())
        .unwrap_or(false)
}

fn cancelled_error<'py>(py: Python<'py>, message: Option<Py<PyAny>>) -> Bound<'py, PyAny> {
    let err = match message {
        Some(message) => CancelledError::new_err((message,)),
        None => CancelledError::new_err(()),
    };
    err.into_value(py).into_bound(py).into_any()
}

/// The coroutine is over: answer the request, then run the task's done-callbacks.
fn done(task: &Bound<'_, CoroutineTask>, result: PyResult<Bound<'_, PyAny>>) {
    let py = task.py();
    let this = task.get();
    let cancelled = matches!(&result, Err(err) if err.is_instance_of::<CancelledError>(py));
    let (callbacks, _released) = {
        let mut state = this.state();
        let released = (state.coro.take(), state.waiter.take());
        state.cancelled = cancelled;
        state.outcome = Some(match &result {
            Ok(value) => Ok(value.clone().unbind()),
            Err(err) => Err(err.clone_ref(py).into_value(py).into_any()),
        });
        // Dropped after the lock: a finalizer may call back into this task.
        (std::mem::take(&mut state.callbacks), released)
    };
    // A cancelled request has nobody waiting for it.
    if !cancelled {
        settle(py, &this.tasks, this.awaiter.clone(), result);
    }
    for (callback, context) in callbacks {
        if let Err(err) = this.tasks.call_soon(py, callback, task, context) {
            super::report(py, err);
        }
    }
}

/// Tells `awaiter` the outcome.
fn settle(
    py: Python<'_>,
    tasks: &Arc<Tasks>,
    awaiter: Arc<dyn Awaiter>,
    result: PyResult<Bound<'_, PyAny>>,
) {
    if let Some(coro) = awaiter.settle(py, result) {
        // An async error handler: a task of its own, in a copy of the current context.
        tasks.spawn(py, awaiter, coro, 0);
    }
}

#[pymethods]
impl CoroutineTask {
    /// The done-callback of an awaited future; also what asyncio calls to resume a task
    /// after a bare yield (`yield_turn`), with no future.
    fn _wakeup(slf: &Bound<'_, Self>, _future: &Bound<'_, PyAny>) {
        let waiter = slf.get().state().waiter.take();
        drop(waiter);
        // Registered with `context=`, so the loop runs this inside the task's context.
        step_in(slf, None, true, 0);
    }

    #[pyo3(signature = (msg = None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Bound<'_, PyAny>>) -> bool {
        let py = slf.py();
        let waiter = {
            let mut state = slf.get().state();
            if state.coro.is_none() {
                return false;
            }
            state.cancels_requested += 1;
            state.waiter.as_ref().map(|w| w.clone_ref(py))
        };
        if let Some(waiter) = waiter {
            if cancel_future(waiter.bind(py), msg.as_ref()) {
                return true;
            }
        }
        let mut state = slf.get().state();
        state.must_cancel = true;
        state.cancel_message = msg.map(Bound::unbind);
        true
    }

    fn cancelling(&self) -> u32 {
        self.state().cancels_requested
    }

    fn uncancel(&self) -> u32 {
        let mut state = self.state();
        if state.cancels_requested > 0 {
            state.cancels_requested -= 1;
            if state.cancels_requested == 0 {
                state.must_cancel = false;
            }
        }
        state.cancels_requested
    }

    fn done(&self) -> bool {
        self.state().coro.is_none()
    }

    fn cancelled(&self) -> bool {
        self.state().cancelled
    }

    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.state().outcome {
            None => Err(InvalidStateError::new_err("Result is not set.")),
            Some(Ok(value)) => Ok(value.clone_ref(py)),
            Some(Err(exc)) => Err(PyErr::from_value(exc.bind(py).clone())),
        }
    }

    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.state().outcome {
            None => Err(InvalidStateError::new_err("Exception is not set.")),
            Some(Ok(_)) => Ok(None),
            Some(Err(exc)) => Ok(Some(exc.clone_ref(py))),
        }
    }

    #[pyo3(signature = (callback, *, context = None))]
    fn add_done_callback(
        slf: &Bound<'_, Self>,
        callback: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let mut state = slf.get().state();
        if state.coro.is_some() {
            state.callbacks.push((callback, context));
            return Ok(());
        }
        drop(state);
        slf.get().tasks.call_soon(py, callback, slf, context)
    }

    fn remove_done_callback(&self, py: Python<'_>, callback: &Bound<'_, PyAny>) -> usize {
        let mut state = self.state();
        let before = state.callbacks.len();
        state
            .callbacks
            .retain(|(cb, _)| !cb.bind(py).eq(callback).unwrap_or(false));
        before - state.callbacks.len()
    }

    fn get_coro(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state().coro.as_ref().map(|c| c.clone_ref(py))
    }

    fn get_context(&self, py: Python<'_>) -> Py<PyAny> {
        self.context.clone_ref(py)
    }

    fn get_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.tasks.event_loop.clone_ref(py)
    }

    fn get_name(&self, py: Python<'_>) -> Py<PyAny> {
        match &self.state().name {
            Some(name) => name.clone_ref(py),
            None => format!("ignyx-request-{:x}", self as *const Self as usize)
                .into_pyobject(py)
                .map(|s| s.into_any().unbind())
                .unwrap_or_else(|_| py.None()),
        }
    }

    fn set_name(&self, name: Py<PyAny>) {
        self.state().name = Some(name);
    }

    /// The future being awaited (asyncio's Task attribute, which anyio reads).
    #[getter]
    fn _fut_waiter(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state().waiter.as_ref().map(|w| w.clone_ref(py))
    }

    #[getter]
    fn _must_cancel(&self) -> bool {
        self.state().must_cancel
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = self.state();
        let coro = match &state.coro {
            Some(coro) => coro
                .bind(py)
                .repr()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            None => "done".to_owned(),
        };
        format!("<CoroutineTask {coro}>")
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.context)?;
        // Steps never hold the lock across Python code, so it is free whenever the GC runs.
        if let Ok(state) = self.state.try_lock() {
            visit.call(&state.coro)?;
            visit.call(&state.waiter)?;
            visit.call(&state.cancel_message)?;
            visit.call(&state.name)?;
            if let Some(Ok(value) | Err(value)) = &state.outcome {
                visit.call(value)?;
            }
            for (callback, context) in &state.callbacks {
                visit.call(callback)?;
                visit.call(context)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        let released = match self.state.try_lock() {
            Ok(mut state) => std::mem::take(&mut *state),
            Err(_) => return,
        };
        // Dropped after the lock: a finalizer may call back into this task.
        drop(released);
    }
}
