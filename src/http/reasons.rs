//! Reason phrases as the running Python says them (`http.HTTPStatus`), which is how uvicorn
//! writes them: in a response's status line, and in the access log.
//!
//! hyper writes its own: the `http` crate's names, and `<none>` for a status with no name.
//! Where they differ (203, 413, 418 on every Python; 414 and 416 on 3.11; 422 on 3.13; and
//! every unnamed status, which uvicorn leaves without a phrase), the response carries the
//! Python phrase for hyper to write. Elsewhere, hyper's own is the same bytes and costs
//! nothing. HTTP/2 has no reason phrases.

use http::StatusCode;
use hyper::ext::ReasonPhrase;
use pyo3::prelude::*;

/// One slot per status code from 0 to 599.
const STATUSES: usize = 600;

pub struct Phrases {
    /// Python's phrase of each status it names.
    text: Vec<Option<Box<str>>>,
    /// The phrase a status line must carry where hyper would write another.
    differing: Vec<Option<ReasonPhrase>>,
}

impl Phrases {
    pub fn of_python(py: Python<'_>) -> PyResult<Self> {
        let mut text = vec![None; STATUSES];
        for status in py.import("http")?.getattr("HTTPStatus")?.try_iter()? {
            let status = status?;
            let code: usize = status.getattr("value")?.extract()?;
            if let Some(slot) = text.get_mut(code) {
                *slot = Some(status.getattr("phrase")?.extract::<String>()?.into());
            }
        }
        Ok(Self::from_names(text))
    }

    fn from_names(text: Vec<Option<Box<str>>>) -> Self {
        let differing = (0..STATUSES)
            .map(|code| {
                let status = StatusCode::from_u16(code as u16).ok()?;
                let python = text[code].as_deref().unwrap_or("");
                let hyper = status.canonical_reason().unwrap_or("<none>");
                (python != hyper).then(|| ReasonPhrase::try_from(python.as_bytes()).ok())?
            })
            .collect();
        Self { text, differing }
    }

    /// The phrase of `status` for a log line: Python's, or the `http` crate's for a status
    /// Python does not name.
    pub fn of(&self, status: StatusCode) -> &str {
        match self.text.get(usize::from(status.as_u16())) {
            Some(Some(phrase)) => phrase,
            _ => status.canonical_reason().unwrap_or(""),
        }
    }

    /// The phrase a response of `status` must carry for its HTTP/1 status line to read as
    /// uvicorn's: `None` where hyper's own already does.
    pub fn for_status_line(&self, status: StatusCode) -> Option<&ReasonPhrase> {
        self.differing.get(usize::from(status.as_u16()))?.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrases(names: &[(usize, &str)]) -> Phrases {
        let mut text = vec![None; STATUSES];
        for &(code, name) in names {
            text[code] = Some(name.into());
        }
        Phrases::from_names(text)
    }

    #[test]
    fn only_phrases_that_hyper_would_write_otherwise_are_carried() {
        let names = phrases(&[
            (200, "OK"),
            (418, "I'm a Teapot"),
            (422, "Unprocessable Content"),
        ]);
        let line = |code| names.for_status_line(StatusCode::from_u16(code).unwrap());
        assert!(line(200).is_none());
        assert_eq!(line(418).unwrap().as_bytes(), b"I'm a Teapot");
        assert_eq!(line(422).unwrap().as_bytes(), b"Unprocessable Content");
        // A status no one names: uvicorn writes no phrase, hyper would write "<none>".
        assert_eq!(line(299).unwrap().as_bytes(), b"");
    }

    #[test]
    fn a_log_line_falls_back_to_the_http_crate_name() {
        let names = phrases(&[(418, "I'm a Teapot")]);
        assert_eq!(names.of(StatusCode::IM_A_TEAPOT), "I'm a Teapot");
        assert_eq!(names.of(StatusCode::NOT_FOUND), "Not Found");
        assert_eq!(names.of(StatusCode::from_u16(299).unwrap()), "");
    }
}
