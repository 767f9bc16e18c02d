//! Field-level validation errors and paging parameters, shared by every block's service API.

/// One bad input field: which (a JSON-pointer-like path such as `blocks[2].dependsOn[0]`), the value
/// received, and why it was refused. Rendered as an entry of problem+json `invalid-parameters`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub property: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub reason: String,
}

impl FieldError {
    pub fn new(property: impl Into<String>, value: impl ToString, reason: impl Into<String>) -> FieldError {
        FieldError { property: property.into(), value: Some(value.to_string()), reason: reason.into() }
    }

    pub fn missing(property: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError { property: property.into(), value: None, reason: reason.into() }
    }
}

/// Paging as the REST API profile wants it: `limit` (default 20) and `page` starting at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub page: u32,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;

    /// Check raw query values; every bad one is reported, not just the first.
    pub fn new(limit: Option<i64>, page: Option<i64>) -> Result<Page, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = limit.unwrap_or(i64::from(Page::DEFAULT_LIMIT));
        if !(1..=i64::from(Page::MAX_LIMIT)).contains(&limit) {
            errors.push(FieldError::new("limit", limit, format!("must be between 1 and {}", Page::MAX_LIMIT)));
        }
        let page = page.unwrap_or(1);
        if !(1..=i64::from(u32::MAX)).contains(&page) {
            errors.push(FieldError::new("page", page, "must be 1 or more (the first page is 1)"));
        }
        if errors.is_empty() { Ok(Page { limit: limit as u32, page: page as u32 }) } else { Err(errors) }
    }

    /// Where this page starts, for a query with `LIMIT limit + 1 OFFSET offset`.
    pub fn offset(&self) -> u64 {
        (u64::from(self.page) - 1) * u64::from(self.limit)
    }

    /// A query fetched one row more than the page holds: this page's items, and whether more follow.
    pub fn trim<T>(&self, mut items: Vec<T>) -> (Vec<T>, bool) {
        let has_more = items.len() > self.limit as usize;
        items.truncate(self.limit as usize);
        (items, has_more)
    }

    /// The items of `all` on this page, and the total count.
    pub fn slice<T>(self, all: Vec<T>) -> Paged<T> {
        let total = all.len() as u64;
        let start = (u64::from(self.page) - 1) * u64::from(self.limit);
        let items = all.into_iter().skip(start as usize).take(self.limit as usize).collect();
        Paged { items, page: self.page, limit: self.limit, total }
    }
}

impl Default for Page {
    fn default() -> Page {
        Page { limit: Page::DEFAULT_LIMIT, page: 1 }
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Page::new(None, None), Ok(Page { limit: 20, page: 1 }));
        let errors = Page::new(Some(0), Some(0)).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.property.as_str()).collect();
        assert_eq!(fields, ["limit", "page"]);
        assert!(Page::new(Some(101), None).is_err());
    }

    #[test]
    fn slicing_pages() {
        let page = Page { limit: 2, page: 2 }.slice(vec![1, 2, 3, 4, 5]);
        assert_eq!((page.items, page.total), (vec![3, 4], 5));
        assert!(Page { limit: 2, page: 9 }.slice(vec![1]).items.is_empty());
        let p = Page { limit: 2, page: 3 };
        assert_eq!(p.offset(), 4);
        assert_eq!(p.trim(vec![5, 6, 7]), (vec![5, 6], true));
        assert_eq!(p.trim(vec![5, 6]), (vec![5, 6], false));
    }
}
