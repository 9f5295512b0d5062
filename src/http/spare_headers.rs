//! Header maps handed from finished requests to later replies on the same thread.
//!
//! hyper reads each request's headers into the map of the reply it wrote before on that
//! connection, so without this every request's map was freed when the request was done
//! and every reply's made anew: two allocations and two frees a request (~350
//! instructions). A finished request's map, cleared, is kept here for the next reply.

use std::cell::RefCell;

use http::HeaderMap;

/// Maps kept at most, per thread.
const KEPT: usize = 16;
/// Maps with room for more headers than this are freed, not kept.
const LARGEST: usize = 96;

thread_local! {
    static SPARE: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `map`, cleared, for a later `take` on this thread.
pub fn give(mut map: HeaderMap) {
    if map.capacity() == 0 || map.capacity() > LARGEST {
        return;
    }
    map.clear();
    // Nothing kept while the thread ends, or if a map's drop gave one back meanwhile.
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < KEPT {
                spare.push(map);
            }
        }
    });
}

/// An empty map with room for `headers` headers: a kept one when there is one.
pub fn take(headers: usize) -> HeaderMap {
    let kept = SPARE
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    match kept {
        Some(mut map) => {
            map.reserve(headers);
            map
        }
        None => HeaderMap::with_capacity(headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, HOST};
    use http::HeaderValue;

    #[test]
    fn a_given_map_comes_back_empty_with_its_room() {
        let mut map = HeaderMap::with_capacity(8);
        map.insert(HOST, HeaderValue::from_static("example.com"));
        let room = map.capacity();
        give(map);
        let map = take(4);
        assert!(map.is_empty());
        assert_eq!(map.capacity(), room);
        assert_eq!(
            take(4).capacity(),
            HeaderMap::<HeaderValue>::with_capacity(4).capacity()
        );
    }

    #[test]
    fn a_kept_map_grows_to_the_room_asked() {
        give(HeaderMap::with_capacity(1));
        let mut map = take(40);
        assert!(map.capacity() >= 40);
        map.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn large_maps_and_more_than_kept_are_freed() {
        give(HeaderMap::with_capacity(LARGEST * 2));
        assert_eq!(SPARE.with(|spare| spare.borrow().len()), 0);
        for _ in 0..KEPT + 5 {
            give(HeaderMap::with_capacity(4));
        }
        assert_eq!(SPARE.with(|spare| spare.borrow().len()), KEPT);
        SPARE.with(|spare| spare.borrow_mut().clear());
    }
}
