//! Keyset pagination. Pages are cut after an id, never at an offset, so a page is stable under concurrent
//! inserts and costs the same at page 1 and page 10,000.

/// Page size when the client asks for none.
pub const PAGE_SIZE_DEFAULT: u32 = 100;
/// Largest page a client may ask for.
pub const PAGE_SIZE_MAX: u32 = 1000;

/// What a client asked for: up to `size` items whose key is after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<K> {
    size: u32,
    pub after: Option<K>,
}

impl<K> PageRequest<K> {
    /// `size` is clamped into `1..=PAGE_SIZE_MAX` by the caller's validation; this constructor refuses 0.
    pub fn new(size: u32, after: Option<K>) -> Option<Self> {
        (1..=PAGE_SIZE_MAX)
            .contains(&size)
            .then_some(Self { size, after })
    }
    pub fn first(size: u32) -> Option<Self> {
        Self::new(size, None)
    }
    pub fn size(&self) -> u32 {
        self.size
    }
}

/// One page of results and the key to continue after, if more exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, K> {
    pub items: Vec<T>,
    pub next_after: Option<K>,
}

impl<T, K> Page<T, K> {
    /// Builds a page from `size + 1` fetched rows: the extra row only proves there is a next page.
    pub fn from_overfetch(mut rows: Vec<T>, size: u32, key: impl Fn(&T) -> K) -> Self {
        let size = size as usize;
        let has_more = rows.len() > size;
        rows.truncate(size);
        let next_after = if has_more { rows.last().map(key) } else { None };
        Page {
            items: rows,
            next_after,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U, K> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_after: self.next_after,
        }
    }
}
