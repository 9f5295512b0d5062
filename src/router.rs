//! Path -> route table: one matchit lookup per request, then a method lookup.
//!
//! Each distinct path template owns a `PathEntry` listing the routes for its
//! methods, so a wrong method is a 405 with a pre-rendered `Allow` header and
//! `HEAD` falls back to `GET` without a second lookup.

use http::{HeaderValue, Method};

pub struct Router<T> {
    /// matchit path -> index into `targets`.
    paths: matchit::Router<usize>,
    targets: Vec<Target>,
    templates: Vec<String>,
    entries: Vec<PathEntry<T>>,
}

/// Where a matchit path leads: an entry, and for the empty-rest form of a `{p:path}`
/// template (`/files/` for `/files/{p:path}`), the parameter that matched nothing.
struct Target {
    entry: usize,
    empty_rest: Option<String>,
    /// Parameters with a Starlette convertor (`{id:int}`), which a path must satisfy to
    /// match at all (else it is not found, as in Starlette, rather than invalid).
    typed: Vec<(String, Convertor)>,
}

/// Starlette's path convertors other than `str` and `path`, by what they accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Convertor {
    /// `[0-9]+`
    Int,
    /// `[0-9]+(\.[0-9]+)?`
    Float,
    /// `[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}`
    /// (Starlette 0.45 on: either case, hyphens optional)
    Uuid,
}

impl Convertor {
    fn named(name: &str) -> Option<Self> {
        match name {
            "int" => Some(Self::Int),
            "float" => Some(Self::Float),
            "uuid" => Some(Self::Uuid),
            _ => None,
        }
    }

    fn accepts(self, value: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Self::Int => digits(value),
            Self::Float => match value.split_once('.') {
                Some((whole, fraction)) => digits(whole) && digits(fraction),
                None => digits(value),
            },
            Self::Uuid => {
                // Five groups of hex digits, each but the first optionally after a hyphen.
                let mut rest = value.as_bytes();
                [8, 4, 4, 4, 12].iter().enumerate().all(|(i, &digits)| {
                    if i > 0 {
                        rest = rest.strip_prefix(b"-").unwrap_or(rest);
                    }
                    let group = rest.get(..digits);
                    rest = rest.get(digits..).unwrap_or_default();
                    group.is_some_and(|g| g.iter().all(u8::is_ascii_hexdigit))
                }) && rest.is_empty()
            }
        }
    }
}

struct PathEntry<T> {
    methods: Vec<(Method, T)>,
    allow: HeaderValue,
}

pub enum Match<'r, 'p, T> {
    Found {
        route: &'r T,
        params: Vec<(&'r str, &'p str)>,
    },
    MethodNotAllowed {
        allow: &'r HeaderValue,
    },
    NotFound,
}

/// Captured path parameters as the owned pairs a request keeps.
pub fn owned(params: Vec<(&str, &str)>) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self {
            paths: matchit::Router::new(),
            targets: Vec::new(),
            templates: Vec::new(),
            entries: Vec::new(),
        }
    }
}

/// Converts a FastAPI path template (`/users/{id}`, `/files/{p:path}`) to matchit's syntax.
pub fn to_matchit(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &rest[start + 1..start + len];
        match inner.split_once(':') {
            Some((name, "path")) => {
                out.push_str("{*");
                out.push_str(name);
                out.push('}');
            }
            Some((name, _)) => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
            None => {
                out.push('{');
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// The parameters of a FastAPI path template that carry a convertor (`{id:int}`).
fn typed_params(template: &str) -> Vec<(String, Convertor)> {
    let mut typed = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        if let Some((name, convertor)) = inner.split_once(':') {
            if let Some(convertor) = Convertor::named(convertor) {
                typed.push((name.to_owned(), convertor));
            }
        }
        rest = &rest[start + len + 1..];
    }
    typed
}

/// The prefix and parameter name of a matchit catch-all path (`/files/{*p}`).
fn catch_all(path: &str) -> Option<(&str, &str)> {
    let start = path.rfind("{*")?;
    let name = path[start + 2..].strip_suffix('}')?;
    Some((&path[..start], name))
}

impl<T> Router<T> {
    /// Adds `route` for `methods` on a FastAPI-style `template`.
    pub fn insert(&mut self, template: &str, methods: &[Method], route: T) -> Result<(), String>
    where
        T: Clone,
    {
        let path = to_matchit(template);
        let index = match self.templates.iter().position(|t| *t == path) {
            Some(i) => i,
            None => {
                let entry = self.entries.len();
                let typed = typed_params(template);
                self.add_target(&path, entry, None, typed.clone())
                    .map_err(|e| format!("cannot add route {template:?}: {e}"))?;
                // `{p:path}` also matches an empty rest, as Starlette's `.*` does.
                if let Some((prefix, name)) = catch_all(&path) {
                    let _ = self.add_target(prefix, entry, Some(name.to_owned()), typed);
                }
                self.templates.push(path);
                self.entries.push(PathEntry {
                    methods: Vec::new(),
                    allow: HeaderValue::from_static(""),
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        for method in methods {
            // The first registration wins, as in Starlette where routes are tried in order.
            if !entry.methods.iter().any(|(m, _)| m == method) {
                entry.methods.push((method.clone(), route.clone()));
            }
        }
        let mut names: Vec<&str> = entry.methods.iter().map(|(m, _)| m.as_str()).collect();
        if names.contains(&"GET") && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
        entry.allow = HeaderValue::from_str(&names.join(", ")).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn add_target(
        &mut self,
        path: &str,
        entry: usize,
        empty_rest: Option<String>,
        typed: Vec<(String, Convertor)>,
    ) -> Result<(), matchit::InsertError> {
        self.paths.insert(path, self.targets.len())?;
        self.targets.push(Target {
            entry,
            empty_rest,
            typed,
        });
        Ok(())
    }

    /// The target `path` matches, with its parameters, if they satisfy its convertors.
    fn target<'r, 'p>(&'r self, path: &'p str) -> Option<(&'r Target, matchit::Params<'r, 'p>)> {
        let found = self.paths.at(path).ok()?;
        let target = &self.targets[*found.value];
        let converts = |(name, convertor): &(String, Convertor)| {
            found.params.get(name).is_some_and(|v| convertor.accepts(v))
        };
        target
            .typed
            .iter()
            .all(converts)
            .then_some((target, found.params))
    }

    pub fn find<'r, 'p>(&'r self, method: &Method, path: &'p str) -> Match<'r, 'p, T> {
        let Some((target, params)) = self.target(path) else {
            return Match::NotFound;
        };
        let entry = &self.entries[target.entry];
        let route = entry.methods.iter().find(|(m, _)| m == method).or_else(|| {
            if method == Method::HEAD {
                entry.methods.iter().find(|(m, _)| m == Method::GET)
            } else {
                None
            }
        });
        match route {
            Some((_, route)) => {
                let mut params: Vec<(&'r str, &'p str)> = params.iter().collect();
                if let Some(name) = &target.empty_rest {
                    params.push((name.as_str(), ""));
                }
                Match::Found { route, params }
            }
            None => Match::MethodNotAllowed {
                allow: &entry.allow,
            },
        }
    }

    /// True when some route answers `path` (any method; convertors satisfied): used for
    /// trailing-slash redirects.
    pub fn has_path(&self, path: &str) -> bool {
        self.target(path).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<u32> {
        let mut r = Router::default();
        r.insert("/", &[Method::GET], 1).unwrap();
        r.insert("/users/{id}", &[Method::GET], 2).unwrap();
        r.insert("/users/{id}", &[Method::DELETE], 3).unwrap();
        r.insert("/files/{rest:path}", &[Method::GET], 4).unwrap();
        r.insert("/users", &[Method::POST], 5).unwrap();
        r
    }

    #[test]
    fn converts_path_templates() {
        assert_eq!(to_matchit("/a/{id}"), "/a/{id}");
        assert_eq!(to_matchit("/a/{id:int}/b"), "/a/{id}/b");
        assert_eq!(to_matchit("/f/{p:path}"), "/f/{*p}");
    }

    #[test]
    fn convertors_decide_whether_a_path_matches() {
        let mut router = Router::default();
        router.insert("/u/{id:int}", &[Method::GET], 1).unwrap();
        router
            .insert("/f/{x:float}/{k:uuid}", &[Method::GET], 2)
            .unwrap();
        let found = |path: &str| matches!(router.find(&Method::GET, path), Match::Found { .. });
        assert!(found("/u/42"));
        assert!(!found("/u/x") && !found("/u/-1") && !found("/u/4.2"));
        let uuid = "0b0c6a3e-4a7d-4c1b-9f3e-1a2b3c4d5e6f";
        assert!(found(&format!("/f/1.5/{uuid}")) && found(&format!("/f/2/{uuid}")));
        assert!(!found(&format!("/f/1./{uuid}")) && !found("/f/1.5/not-a-uuid"));
        assert!(found(&format!("/f/1.5/{}", uuid.to_uppercase())));
        assert!(found(&format!("/f/1.5/{}", uuid.replace('-', ""))));
        assert!(!found(&format!("/f/1.5/{uuid}0")) && !found(&format!("/f/1.5/-{uuid}")));
        assert!(!found(&format!("/f/1.5/{}", &uuid[1..])));
    }

    #[test]
    fn finds_route_and_params() {
        let r = router();
        match r.find(&Method::GET, "/users/42") {
            Match::Found { route, params } => {
                assert_eq!(*route, 2);
                assert_eq!(params, vec![("id", "42")]);
            }
            _ => panic!("expected a match"),
        }
        match r.find(&Method::DELETE, "/users/42") {
            Match::Found { route, .. } => assert_eq!(*route, 3),
            _ => panic!("expected a match"),
        }
    }

    #[test]
    fn path_parameter_takes_rest_of_path() {
        let r = router();
        match r.find(&Method::GET, "/files/a/b/c.txt") {
            Match::Found { params, .. } => assert_eq!(params, vec![("rest", "a/b/c.txt")]),
            _ => panic!("expected a match"),
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let r = router();
        match r.find(&Method::PUT, "/users/1") {
            Match::MethodNotAllowed { allow } => assert_eq!(allow, "GET, DELETE, HEAD"),
            _ => panic!("expected 405"),
        }
        match r.find(&Method::GET, "/users") {
            Match::MethodNotAllowed { allow } => assert_eq!(allow, "POST"),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn path_parameter_may_be_empty() {
        let r = router();
        match r.find(&Method::GET, "/files/") {
            Match::Found { route, params } => {
                assert_eq!(*route, 4);
                assert_eq!(params, vec![("rest", "")]);
            }
            _ => panic!("expected a match"),
        }
    }

    #[test]
    fn head_falls_back_to_get() {
        let r = router();
        match r.find(&Method::HEAD, "/") {
            Match::Found { route, .. } => assert_eq!(*route, 1),
            _ => panic!("expected a match"),
        }
    }

    #[test]
    fn unknown_path_is_not_found() {
        let r = router();
        assert!(matches!(r.find(&Method::GET, "/nope"), Match::NotFound));
        assert!(r.has_path("/users"));
        assert!(!r.has_path("/users/"));
    }

    #[test]
    fn conflicting_templates_are_an_error() {
        let mut r: Router<u32> = Router::default();
        r.insert("/a/{x}", &[Method::GET], 1).unwrap();
        assert!(r.insert("/a/{y}", &[Method::GET], 2).is_err());
    }
}
