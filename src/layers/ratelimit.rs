//! Rate limits (`RateLimitMiddleware`, `RateLimit`): each rule is one or more windows
//! ("10/second;1000/hour"), checked by GCRA, the generic cell rate algorithm. A window of N
//! requests per period P lets one request through every T = P / N on average, with up to N
//! at once; per client it keeps a single number, the theoretical arrival time (TAT) of its
//! next request, so every check is one read and one write of one value per window, atomic
//! in Redis as one Lua script, with no counters to reset at window edges (a fixed window
//! lets 2N through across an edge) and no log of timestamps (a sliding log keeps N of
//! them). A request passes only when every window of the rule lets it, and only then does
//! any window count it.
//!
//! The state lives in this process's memory (`memory://`: each worker limits alone) or in
//! Redis (`redis://`, `rediss://`: every worker and host shares it, on Redis's clock).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, StatusCode};

use super::redirect::Answer;
use crate::store::Redis;

/// One window: `limit` requests per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub limit: u64,
    /// In microseconds.
    pub period: u64,
}

impl Window {
    /// T: the interval one request uses up (microseconds).
    fn interval(self) -> u64 {
        (self.period / self.limit).max(1)
    }

    /// How far ahead of now the TAT may be after a request: N intervals, so that exactly
    /// N requests pass at once.
    fn capacity(self) -> u64 {
        self.interval() * self.limit
    }

    /// Its length in whole seconds.
    fn seconds(self) -> u64 {
        self.period / 1_000_000
    }

    /// How the headers and the Redis keys name it: `100/60s`.
    fn name(self) -> String {
        format!("{}/{}s", self.limit, self.seconds())
    }
}

/// The most windows one rule may have (their TATs are kept on the stack while checked).
pub const MAX_WINDOWS: usize = 8;

/// Whom a request is counted for: a client's address (no allocation to look it up), or a
/// text (a header's value, what a Python function returned).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ClientKey {
    Address(IpAddr),
    Text(Box<str>),
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => address.fmt(f),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// Windows from the text users write, as `slowapi` and `limits` read it: `"5/minute"`,
/// `"100 per hour"`, `"10/5 seconds"`, several joined by `;` or `,`.
pub fn parse_rule(text: &str) -> Result<Vec<Window>, String> {
    let invalid = || format!("invalid rate limit {text:?} (expected e.g. \"100/minute\")");
    let mut windows = Vec::new();
    for part in text
        .split([';', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (count, per) = match part.split_once('/') {
            Some(split) => split,
            None => part.split_once(" per ").ok_or_else(invalid)?,
        };
        let limit: u64 = count.trim().parse().map_err(|_| invalid())?;
        let per = per.trim();
        let (multiple, unit) = match per.split_once(char::is_whitespace) {
            Some((n, unit)) => (n.trim().parse::<u64>().map_err(|_| invalid())?, unit.trim()),
            None => (1, per),
        };
        let seconds: u64 = match unit {
            "second" | "seconds" | "sec" | "secs" => 1,
            "minute" | "minutes" | "min" | "mins" => 60,
            "hour" | "hours" => 3_600,
            "day" | "days" => 86_400,
            "month" | "months" => 30 * 86_400,
            "year" | "years" => 365 * 86_400,
            _ => return Err(invalid()),
        };
        let period = seconds
            .checked_mul(multiple)
            .and_then(|s| s.checked_mul(1_000_000))
            .filter(|_| limit > 0 && multiple > 0)
            .ok_or_else(invalid)?;
        windows.push(Window { limit, period });
    }
    if windows.is_empty() || windows.len() > MAX_WINDOWS {
        return Err(invalid());
    }
    Ok(windows)
}

/// What a check says of one request.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The window with the fewest requests left: its index in the rule.
    pub window: usize,
    pub remaining: u64,
    /// Seconds until that window is whole again.
    pub reset: u64,
    /// Seconds until a refused request would pass.
    pub retry_after: u64,
}

/// GCRA over `windows` at `now`, from each window's TAT before the request (0: none yet):
/// the verdict, with the TATs to store when it passes written into `next`.
pub fn decide(windows: &[Window], now: u64, tats: &[u64], next: &mut [u64]) -> Verdict {
    let mut allowed = true;
    let mut retry = 0;
    for ((window, &tat), slot) in windows.iter().zip(tats).zip(next.iter_mut()) {
        let tat = tat.max(now);
        let after = tat + window.interval();
        if after - now > window.capacity() {
            allowed = false;
            retry = retry.max(after - now - window.capacity());
        }
        *slot = after;
    }
    // The window with the fewest requests left, as it stands after this one.
    let mut report = (u64::MAX, 0, 0);
    for (index, ((window, &tat), &after)) in windows.iter().zip(tats).zip(next.iter()).enumerate() {
        let ahead = if allowed {
            after - now
        } else {
            tat.max(now) - now
        };
        let remaining = window.capacity().saturating_sub(ahead) / window.interval();
        if remaining < report.0 {
            report = (remaining, ahead, index);
        }
    }
    Verdict {
        allowed,
        window: report.2,
        remaining: report.0,
        reset: seconds_up(report.1),
        retry_after: if allowed { 0 } else { seconds_up(retry).max(1) },
    }
}

fn seconds_up(micros: u64) -> u64 {
    micros.div_ceil(1_000_000)
}

/// Where the TATs are kept.
pub enum Storage {
    Memory(Memory),
    Redis { redis: Arc<Redis>, prefix: String },
}

/// `memory://`: this process's TATs, keyed by client, on a monotonic clock. Keys whose
/// every TAT has passed are forgotten now and then, so the map holds only clients seen
/// within their windows.
#[derive(Default)]
pub struct Memory {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    tats: HashMap<ClientKey, Box<[u64]>>,
    /// Size of the map after the last sweep.
    swept_at: usize,
}

impl Memory {
    fn hit(&self, windows: &[Window], key: &ClientKey) -> Verdict {
        self.hit_at(windows, key, monotonic_micros())
    }

    fn hit_at(&self, windows: &[Window], key: &ClientKey, now: u64) -> Verdict {
        let mut next = [0; MAX_WINDOWS];
        let next = &mut next[..windows.len()];
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // A client seen before: its TATs updated in place.
        if let Some(tats) = state.tats.get_mut(key) {
            let verdict = decide(windows, now, tats, next);
            if verdict.allowed {
                tats.copy_from_slice(next);
            }
            return verdict;
        }
        let verdict = decide(windows, now, &[0; MAX_WINDOWS][..windows.len()], next);
        if verdict.allowed {
            state.tats.insert(key.clone(), next.into());
            if state.tats.len() >= 1024 && state.tats.len() >= 2 * state.swept_at {
                state.tats.retain(|_, tats| tats.iter().any(|&t| t > now));
                state.swept_at = state.tats.len();
            }
        }
        verdict
    }
}

/// Microseconds on a clock that only moves forward; never 0, the TAT of "not seen".
fn monotonic_micros() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_micros() as u64 + 1
}

/// The Redis side of the check: every window's TAT read, the GCRA test, and, only when
/// all pass, the new TATs written with an expiry, on Redis's clock (the same for every
/// host). Returns whether it passed, the time, and the TATs as they were.
static GCRA_SCRIPT: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local allowed = 1
local out = {0, now}
local next = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[i + 2] = tat
  if tat < now then tat = now end
  next[i] = tat + interval
  if next[i] - now > capacity then allowed = 0 end
end
if allowed == 1 then
  for i = 1, #KEYS do
    local ttl = math.ceil((next[i] - now) / 1000)
    redis.call('SET', KEYS[i], string.format('%.0f', next[i]), 'PX', ttl)
  end
end
out[1] = allowed
return out
",
    )
});

/// What happens when the storage cannot be asked (Redis down or too slow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// The request passes, without rate-limit headers.
    Open,
    /// The request is refused with a 503.
    Closed,
}

/// One rule: its windows, where it keeps its state, and how it answers.
pub struct RateLimit {
    windows: Vec<Window>,
    storage: Storage,
    on_error: OnError,
    /// `RateLimit-*` headers on every response it lets through.
    headers: bool,
    /// `RateLimit-Policy`: every window, as `"name";q=limit;w=seconds`.
    policy: HeaderValue,
    /// Each window's `RateLimit` field up to its numbers: `"100/60s";r=`.
    prefixes: Vec<Vec<u8>>,
    /// Called with a message when the storage fails (it keeps the log from repeating).
    report: Box<dyn Fn(&str) + Send + Sync>,
    /// For Redis: each window's key after the client's (`:100/60`) and the script's two
    /// arguments for it (interval and capacity), made once.
    key_suffixes: Vec<String>,
    script_args: Vec<u64>,
}

/// The outcome of a check, for the request's way in and out.
pub enum Checked {
    /// It passes; with the verdict its response's headers tell, when the rule adds them.
    Pass(Option<Verdict>),
    /// It is answered here (429, or 503 when the storage failed and the rule fails closed).
    Refused(Answer),
}

impl RateLimit {
    pub fn new(
        windows: Vec<Window>,
        storage: Storage,
        on_error: OnError,
        headers: bool,
        report: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Self {
        let policy = windows
            .iter()
            .map(|w| format!("\"{}\";q={};w={}", w.name(), w.limit, w.seconds()))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            policy: HeaderValue::from_str(&policy).expect("digits and punctuation"),
            prefixes: windows
                .iter()
                .map(|w| format!("\"{}\";r=", w.name()).into_bytes())
                .collect(),
            key_suffixes: windows
                .iter()
                .map(|w| format!(":{}/{}", w.limit, w.seconds()))
                .collect(),
            script_args: windows
                .iter()
                .flat_map(|w| [w.interval(), w.capacity()])
                .collect(),
            windows,
            storage,
            on_error,
            headers,
            report,
        }
    }

    /// Counts a request from `key` (a client's address, a header's value, ...).
    pub async fn check(&self, key: &ClientKey) -> Checked {
        let verdict = match &self.storage {
            Storage::Memory(memory) => Ok(memory.hit(&self.windows, key)),
            Storage::Redis { redis, prefix } => self.hit_redis(redis, prefix, key).await,
        };
        match verdict {
            Ok(verdict) if verdict.allowed => Checked::Pass(self.headers.then_some(verdict)),
            Ok(verdict) => Checked::Refused(self.refusal(&verdict)),
            Err(message) => {
                self.report_failure(&message);
                match self.on_error {
                    OnError::Open => Checked::Pass(None),
                    OnError::Closed => Checked::Refused(unavailable()),
                }
            }
        }
    }

    async fn hit_redis(
        &self,
        redis: &Arc<Redis>,
        prefix: &str,
        key: &ClientKey,
    ) -> Result<Verdict, String> {
        let keys: Vec<String> = self
            .key_suffixes
            .iter()
            .map(|suffix| format!("{prefix}{key}{suffix}"))
            .collect();
        let args = self.script_args.clone();
        let reply: Vec<i64> = redis
            .run(move |mut connection| async move {
                let mut invocation = GCRA_SCRIPT.prepare_invoke();
                for key in &keys {
                    invocation.key(key);
                }
                for arg in &args {
                    invocation.arg(arg);
                }
                invocation.invoke_async(&mut connection).await
            })
            .await
            .map_err(|e| e.0)?;
        let (Some(&now), Some(tats)) = (reply.get(1), reply.get(2..)) else {
            return Err("unexpected reply from the rate-limit script".into());
        };
        let tats: Vec<u64> = tats.iter().map(|&t| t.max(0) as u64).collect();
        if tats.len() != self.windows.len() {
            return Err("unexpected reply from the rate-limit script".into());
        }
        let mut next = [0; MAX_WINDOWS];
        let next = &mut next[..tats.len()];
        let mut verdict = decide(&self.windows, now.max(0) as u64, &tats, next);
        // Redis decided, atomically; its answer stands.
        verdict.allowed = reply[0] == 1;
        Ok(verdict)
    }

    /// Writes the `RateLimit` and `RateLimit-Policy` fields of `verdict` (the IETF draft's:
    /// `RateLimit: "100/60s";r=42;t=25`, the window with the fewest requests left, and every
    /// window of the rule) into a response's headers, unless a rate limit inside this one (a
    /// route's) wrote them already with fewer requests left: the closer limit is the one
    /// told.
    pub fn write_headers(&self, verdict: &Verdict, headers: &mut HeaderMap) {
        if headers
            .get(&RATELIMIT)
            .and_then(remaining_in)
            .is_some_and(|theirs| theirs <= verdict.remaining)
        {
            return;
        }
        // `"name";r=` made once per window, the two numbers written after it by itoa.
        let prefix = &self.prefixes[verdict.window];
        let mut value = Vec::with_capacity(prefix.len() + 24);
        value.extend_from_slice(prefix);
        value.extend_from_slice(itoa::Buffer::new().format(verdict.remaining).as_bytes());
        value.extend_from_slice(b";t=");
        value.extend_from_slice(itoa::Buffer::new().format(verdict.reset).as_bytes());
        let value = HeaderValue::from_maybe_shared(Bytes::from(value)).expect("plain text");
        headers.reserve(2);
        headers.insert(RATELIMIT.clone(), value);
        headers.insert(POLICY.clone(), self.policy.clone());
    }

    /// The 429: FastAPI's body for `HTTPException(429)`, `Retry-After` and the headers.
    fn refusal(&self, verdict: &Verdict) -> Answer {
        let mut headers = HeaderMap::with_capacity(4);
        self.write_headers(verdict, &mut headers);
        headers.insert(RETRY_AFTER, HeaderValue::from(verdict.retry_after));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = Bytes::from_static(br#"{"detail":"Too Many Requests"}"#);
        (StatusCode::TOO_MANY_REQUESTS, headers, body)
    }

    fn report_failure(&self, message: &str) {
        let policy = match self.on_error {
            OnError::Open => "letting requests through",
            OnError::Closed => "refusing requests with 503",
        };
        (self.report)(&format!("rate limit storage failed ({policy}): {message}"));
    }
}

/// The `r` (remaining) of a `RateLimit` field.
fn remaining_in(value: &HeaderValue) -> Option<u64> {
    let text = value.to_str().ok()?;
    let (_, after) = text.split_once(";r=")?;
    after.split(';').next()?.trim().parse().ok()
}

/// The answer when the storage failed and the rule fails closed.
fn unavailable() -> Answer {
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    let body = Bytes::from_static(br#"{"detail":"Service Unavailable"}"#);
    (StatusCode::SERVICE_UNAVAILABLE, headers, body)
}

static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    fn rule(text: &str) -> Vec<Window> {
        parse_rule(text).unwrap()
    }

    fn text(key: &str) -> ClientKey {
        ClientKey::Text(key.into())
    }

    #[test]
    fn rules_read_as_limits_reads_them() {
        assert_eq!(
            rule("5/minute"),
            [Window {
                limit: 5,
                period: 60 * SECOND
            }]
        );
        assert_eq!(
            rule("100 per hour"),
            [Window {
                limit: 100,
                period: 3_600 * SECOND
            }]
        );
        assert_eq!(
            rule("10/5 seconds"),
            [Window {
                limit: 10,
                period: 5 * SECOND
            }]
        );
        assert_eq!(
            rule("10/second; 1000/day"),
            [
                Window {
                    limit: 10,
                    period: SECOND
                },
                Window {
                    limit: 1000,
                    period: 86_400 * SECOND
                }
            ]
        );
        for bad in [
            "1/288230376151711744 seconds", // 2**58 s: its microseconds overflow
            "",
            "5",
            "five/minute",
            "5/fortnight",
            "0/minute",
            "5/0 minutes",
            "5/s",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn n_pass_at_once_then_one_per_interval() {
        let windows = rule("5/minute");
        let mut tats = vec![0];
        let now = 1_000 * SECOND;
        for left in (0..5).rev() {
            let mut next = vec![0; 1];
            let verdict = decide(&windows, now, &tats, &mut next);
            assert!(verdict.allowed);
            assert_eq!(verdict.remaining, left);
            tats = next;
        }
        let mut next = vec![0; 1];
        let verdict = decide(&windows, now, &tats, &mut next);
        assert!(!verdict.allowed);
        assert_eq!(
            (verdict.remaining, verdict.retry_after, verdict.reset),
            (0, 12, 60)
        );
        // One interval (12 s) later, one more passes.
        let verdict = decide(&windows, now + 12 * SECOND, &tats, &mut next);
        assert!(verdict.allowed);
        assert_eq!(verdict.remaining, 0);
    }

    #[test]
    fn a_request_counts_only_when_every_window_lets_it_pass() {
        let windows = rule("2/second;3/minute");
        let mut tats = vec![0, 0];
        let mut passed = 0;
        for second in 10..20 {
            let mut next = vec![0; 2];
            let verdict = decide(&windows, second * SECOND, &tats, &mut next);
            if verdict.allowed {
                tats = next;
                passed += 1;
            } else {
                // The minute's window refuses, and is the one reported.
                assert_eq!((windows[verdict.window].limit, verdict.remaining), (3, 0));
            }
        }
        assert_eq!(passed, 3);
    }

    #[test]
    fn the_headers_are_the_drafts_two_fields() {
        let storage = Storage::Memory(Memory::default());
        let limit = RateLimit::new(
            rule("2/second;3/minute"),
            storage,
            OnError::Open,
            true,
            Box::new(|_| {}),
        );
        let verdict = decide(&limit.windows, SECOND, &[0, 0], &mut [0, 0]);
        let mut headers = HeaderMap::new();
        limit.write_headers(&verdict, &mut headers);
        assert_eq!(
            headers["ratelimit-policy"],
            r#""2/1s";q=2;w=1, "3/60s";q=3;w=60"#
        );
        assert_eq!(headers["ratelimit"], r#""2/1s";r=1;t=1"#);
        // A limit inside with fewer left keeps its fields.
        let inner = HeaderValue::from_static(r#""5/60s";r=0;t=60"#);
        let mut headers = HeaderMap::new();
        headers.insert(RATELIMIT.clone(), inner.clone());
        limit.write_headers(&verdict, &mut headers);
        assert_eq!(headers["ratelimit"], inner);
    }

    #[test]
    fn memory_forgets_clients_whose_windows_passed() {
        let memory = Memory::default();
        let windows = rule("1/second");
        for i in 0..1500 {
            memory.hit_at(&windows, &text(&format!("early-{i}")), SECOND);
        }
        assert!(!memory.hit_at(&windows, &text("early-0"), SECOND).allowed);
        for i in 0..600 {
            memory.hit_at(&windows, &text(&format!("late-{i}")), 100 * SECOND);
        }
        let held = memory.state.lock().unwrap().tats.len();
        assert!(held < 1000, "{held} clients kept");
        assert!(
            memory
                .hit_at(&windows, &text("early-0"), 100 * SECOND)
                .allowed
        );
    }
}
