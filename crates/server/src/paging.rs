//! One shape for every list answer: the page's items, where it is (`page`, `limit`) and whether another
//! page follows (`hasMore`). Lists are read with one row more than the page holds (`Page::offset`,
//! `limit + 1`), so no count query is needed.

use ena_core::Page;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// The page shown, starting at 1.
    pub page: u32,
    pub limit: u32,
    /// Whether another page follows.
    pub has_more: bool,
}

impl<T> ListPage<T> {
    /// The page of `fetched`, which was read with `page.limit + 1` rows from `page.offset()`.
    pub fn of(page: Page, fetched: Vec<T>) -> ListPage<T> {
        let (items, has_more) = page.trim(fetched);
        ListPage { items, page: page.page, limit: page.limit, has_more }
    }
}
