//! Offset pagination as the contract defines it: `page` >= 1, `limit` >= 1,
//! `limit` above the maximum clamped to it.

use serde::Serialize;

use crate::error::{Error, FieldError, Result};

/// The most items one page may hold.
pub const MAX_LIMIT: u64 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub limit: u64,
}

impl PageRequest {
    /// Validates `page` and `limit`; `default_limit` applies when `limit` is absent.
    pub fn new(page: Option<i64>, limit: Option<i64>, default_limit: u64) -> Result<Self> {
        let mut errors = Vec::new();
        let page = page.unwrap_or(1);
        if page < 1 {
            errors.push(FieldError::new("page", "must be 1 or more"));
        }
        let limit = limit.unwrap_or(default_limit as i64);
        if limit < 1 {
            errors.push(FieldError::new("limit", "must be 1 or more"));
        }
        if !errors.is_empty() {
            return Err(Error::invalid_fields(errors));
        }
        // Pages so deep that the offset would overflow are past the end anyway.
        Ok(Self {
            page: page.unsigned_abs().min(u32::MAX as u64),
            limit: limit.unsigned_abs().min(MAX_LIMIT),
        })
    }

    /// Rows skipped before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.limit
    }

    /// The pagination block for a total.
    pub fn pagination(&self, total: u64) -> Pagination {
        Pagination {
            page: self.page,
            limit: self.limit,
            total,
            pages: total.div_ceil(self.limit),
        }
    }
}

/// `{page, limit, total, pages}` as the reference shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Pagination {
    pub page: u64,
    pub limit: u64,
    pub total: u64,
    pub pages: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped_and_pages_rounded_up() {
        let page = PageRequest::new(Some(2), Some(500), 20).expect("valid");
        assert_eq!(page.limit, 100);
        assert_eq!(page.offset(), 100);
        assert_eq!(page.pagination(201).pages, 3);
        assert_eq!(
            PageRequest::new(None, None, 20)
                .expect("valid")
                .pagination(0)
                .pages,
            0
        );
    }

    #[test]
    fn zero_or_negative_page_or_limit_is_refused() {
        for (page, limit) in [(0, 20), (1, 0), (-1, 20), (1, -5)] {
            assert!(
                PageRequest::new(Some(page), Some(limit), 20).is_err(),
                "{page} {limit}"
            );
        }
    }
}
