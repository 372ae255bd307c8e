//! Event categories (事件分类): a tree a deployment may configure (JSON of the same shape as
//! `GET /api/events/categories`), with a default one: 安全隐患, 矛盾纠纷, 环境卫生, 市政设施, 治安防控,
//! 民生服务, 其他, each with children. Codes are dotted: `safety.fire` is a child of `safety`.
//!
//! ```
//! use wangge::events::category::CategoryTree;
//! let t = CategoryTree::default();
//! assert_eq!(t.name("safety.fire"), Some("消防隐患"));
//! assert_eq!(t.top("safety.fire"), Some("safety"));
//! assert!(t.check("safety.moon").is_err());
//! ```

use super::EventError;

/// A category and its children.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Category {
    /// Its code (`safety`, `safety.fire`).
    pub code: String,
    /// Its name (安全隐患).
    pub name: String,
    /// Its children.
    #[serde(default)]
    pub children: Vec<Category>,
}

/// The categories of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct CategoryTree(pub Vec<Category>);

/// Children of a default category: (code suffix, name).
type Children = &'static [(&'static str, &'static str)];

/// The default tree: (code, name, children).
const DEFAULT: &[(&str, &str, Children)] = &[
    (
        "safety",
        "安全隐患",
        &[
            ("fire", "消防隐患"),
            ("building", "危房隐患"),
            ("gas", "燃气安全"),
            ("traffic", "交通安全"),
            ("flood", "防汛防台"),
        ],
    ),
    (
        "dispute",
        "矛盾纠纷",
        &[
            ("neighbour", "邻里纠纷"),
            ("family", "婚姻家庭纠纷"),
            ("labour", "劳资纠纷"),
            ("property", "物业纠纷"),
            ("land", "土地山林纠纷"),
        ],
    ),
    (
        "sanitation",
        "环境卫生",
        &[
            ("rubbish", "垃圾堆放"),
            ("sewage", "污水排放"),
            ("noise", "噪声油烟"),
            ("greening", "绿化破坏"),
        ],
    ),
    (
        "facility",
        "市政设施",
        &[
            ("road", "道路破损"),
            ("light", "路灯故障"),
            ("manhole", "井盖缺失"),
            ("water", "供水管网"),
        ],
    ),
    (
        "security",
        "治安防控",
        &[
            ("suspicious", "可疑人员"),
            ("theft", "盗窃"),
            ("fraud", "电信诈骗"),
            ("key_people", "重点人员"),
        ],
    ),
    (
        "livelihood",
        "民生服务",
        &[
            ("elderly", "养老助残"),
            ("relief", "困难救助"),
            ("medical", "医疗卫生"),
            ("consult", "政策咨询"),
        ],
    ),
    ("other", "其他", &[("other", "其他事项")]),
];

impl Default for CategoryTree {
    fn default() -> CategoryTree {
        CategoryTree(
            DEFAULT
                .iter()
                .map(|(code, name, kids)| Category {
                    code: code.to_string(),
                    name: name.to_string(),
                    children: kids
                        .iter()
                        .map(|(k, n)| Category {
                            code: format!("{code}.{k}"),
                            name: n.to_string(),
                            children: Vec::new(),
                        })
                        .collect(),
                })
                .collect(),
        )
    }
}

impl CategoryTree {
    /// Reads a tree from JSON (`[{"code":"..","name":"..","children":[...]}]`); a child's code
    /// must start with its parent's and a dot, and codes are unique.
    pub fn from_json(text: &str) -> Result<CategoryTree, EventError> {
        let bad = |why: String| EventError::Invalid {
            field: "categories",
            why,
        };
        let cats: Vec<Category> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let t = CategoryTree(cats);
        let mut seen = std::collections::BTreeSet::new();
        let mut stack: Vec<(&Category, Option<&str>)> = t.0.iter().map(|c| (c, None)).collect();
        while let Some((c, parent)) = stack.pop() {
            if c.code.is_empty() || c.name.trim().is_empty() {
                return Err(bad(format!("`{}`: code and name are needed", c.code)));
            }
            if let Some(p) = parent {
                if !c.code.starts_with(&format!("{p}.")) {
                    return Err(bad(format!("`{}` must start with `{p}.`", c.code)));
                }
            }
            if !seen.insert(c.code.clone()) {
                return Err(bad(format!("`{}` twice", c.code)));
            }
            stack.extend(c.children.iter().map(|k| (k, Some(c.code.as_str()))));
        }
        Ok(t)
    }

    fn find(&self, code: &str) -> Option<&Category> {
        let mut level = &self.0;
        loop {
            let c = level
                .iter()
                .find(|c| c.code == code || code.starts_with(&format!("{}.", c.code)))?;
            if c.code == code {
                return Some(c);
            }
            level = &c.children;
        }
    }

    /// Every code in the tree, parents before their children.
    pub fn codes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack: Vec<&Category> = self.0.iter().rev().collect();
        while let Some(c) = stack.pop() {
            out.push(c.code.as_str());
            stack.extend(c.children.iter().rev());
        }
        out
    }

    /// The name of a category.
    pub fn name(&self, code: &str) -> Option<&str> {
        self.find(code).map(|c| c.name.as_str())
    }

    /// The top-level category holding `code`.
    pub fn top(&self, code: &str) -> Option<&str> {
        self.find(code)?;
        self.0
            .iter()
            .find(|c| c.code == code || code.starts_with(&format!("{}.", c.code)))
            .map(|c| c.code.as_str())
    }

    /// `code` if it is in the tree.
    pub fn check(&self, code: &str) -> Result<String, EventError> {
        self.find(code.trim())
            .map(|c| c.code.clone())
            .ok_or_else(|| EventError::UnknownCategory(code.to_string()))
    }

    /// A category given by its code or by its name (a hotline export names it): `消防隐患` →
    /// `safety.fire`.
    pub fn resolve(&self, text: &str) -> Result<String, EventError> {
        let t = text.trim();
        if let Ok(c) = self.check(t) {
            return Ok(c);
        }
        let mut stack: Vec<&Category> = self.0.iter().collect();
        while let Some(c) = stack.pop() {
            if c.name == t {
                return Ok(c.code.clone());
            }
            stack.extend(c.children.iter());
        }
        Err(EventError::UnknownCategory(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tree_has_the_seven_and_their_children() {
        let t = CategoryTree::default();
        let names: Vec<&str> = t.0.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "安全隐患",
                "矛盾纠纷",
                "环境卫生",
                "市政设施",
                "治安防控",
                "民生服务",
                "其他"
            ]
        );
        assert!(t.0.iter().all(|c| !c.children.is_empty()));
        assert_eq!(t.resolve("垃圾堆放").unwrap(), "sanitation.rubbish");
        assert_eq!(t.check("dispute").unwrap(), "dispute");
        // a JSON round trip gives the same tree, and a bad child code is refused
        let back = CategoryTree::from_json(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let e = CategoryTree::from_json(
            r#"[{"code":"a","name":"A","children":[{"code":"b.c","name":"C"}]}]"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("must start with `a.`"), "{e}");
    }
}
