//! Importing a planner's edited building → grid assignment (an `assignment.csv` from
//! `wangge export`) as a new plan version of every village the file touches, in one transaction.
//!
//! The file is checked against the stored town ([`assign_csv::check`]); each village's plan is
//! made from its cells by [`assign_village`], with the grids of the plan the rows were exported
//! from (their `plan_version`, else the active one) deciding land without buildings, and the
//! options that plan was made with (band, micro-grid band, weight, seed). Versions are saved
//! beside the active one unless asked to activate them; codes follow [`super::versioning`].

use super::read::VillagePlanRecord;
use super::versioning::CodeRule;
use super::{Base, PlanDiff, PlanMeta, Result, Saved, Store, StoreError};
use crate::model::GridCode;
use crate::partition::assign::{assign_village, PreviousGrid};
use crate::partition::assign_csv::{self, CsvError, Row};
use crate::partition::Options;
use std::collections::BTreeSet;

/// One village's newly saved version from an assignment, compared with the version that was active.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reassigned {
    /// The version saved and how its codes went.
    pub saved: Saved,
    /// Whether it was made the active version.
    pub activated: bool,
    /// The version that was active before, if any.
    pub previous_active: Option<i64>,
    /// What changed from that version to the new one.
    pub diff: Option<PlanDiff>,
    /// Grids outside the band and other things to look at (`kind`s of the plan's issues).
    pub issues: Vec<String>,
}

fn invalid(e: CsvError) -> StoreError {
    StoreError::Invalid {
        what: {
            let mut w = e.file.clone();
            if let Some(l) = e.line {
                w.push_str(&format!(": line {l}"));
            }
            if let Some(f) = &e.field {
                w.push_str(&format!(": field `{f}`"));
            }
            w
        },
        why: e.why,
    }
}

impl Store {
    /// Imports an assignment read from `file` ([`assign_csv::read`]) as a new plan version of each
    /// village it touches, all in one transaction: any error (a bad row, a grid in two pieces, a
    /// conflict with another writer) leaves the store as it was. `meta.params` is replaced by the
    /// options each plan was made with. With `activate`, the new versions become the active ones.
    pub async fn import_assignment(
        &self,
        file: &str,
        rows: &[Row],
        meta: &PlanMeta,
        activate: bool,
    ) -> Result<Vec<Reassigned>> {
        self.import_assignment_on(file, rows, meta, activate, None)
            .await
    }

    /// [`Store::import_assignment`] for a writer who says which active versions it started from
    /// (`base`; `None`: those active now): if another writer saved or activated a plan of one of
    /// those villages since, nothing is saved and the error is [`StoreError::Conflict`].
    pub async fn import_assignment_on(
        &self,
        file: &str,
        rows: &[Row],
        meta: &PlanMeta,
        activate: bool,
        base: Option<Base>,
    ) -> Result<Vec<Reassigned>> {
        let active = match base {
            Some(b) => b,
            None => self.active_versions().await?,
        };
        // Only the villages the file can touch are read: a valid row's grid code starts with its
        // building's village code. A file that fails against them is checked against the whole
        // town, so its error names the row and field as it would have.
        let touched: BTreeSet<String> = rows
            .iter()
            .flat_map(|r| [Some(r.grid.village().to_string()), r.village.clone()])
            .flatten()
            .collect();
        let mut ds = self.dataset_of(&touched).await?;
        let checked = match assign_csv::check(file, &ds, rows) {
            Ok(c) => c,
            Err(_) => {
                ds = self.dataset().await?;
                assign_csv::check(file, &ds, rows).map_err(invalid)?
            }
        };
        let mut work: Vec<(VillagePlanRecord, PlanMeta, Vec<String>)> = Vec::new();
        let mut base = Base::default();
        for cv in checked {
            let vcode = ds.villages[cv.assignment.village].code.to_string();
            let was_active = active.0.get(&vcode).copied().flatten();
            base.0.insert(vcode.clone(), was_active);
            let from = cv.plan_version.or(was_active);
            let prev = match from {
                Some(v) => Some(self.load_plan(&vcode, v).await.map_err(|e| match e {
                    StoreError::NotFound(_) => invalid(CsvError {
                        file: file.to_string(),
                        line: cv.version_line,
                        field: Some("plan_version".into()),
                        why: format!("village {vcode} has no plan version {v}"),
                    }),
                    e => e,
                })?),
                None => None,
            };
            let opts = prev
                .as_ref()
                .map(|(info, _)| Options::from_params(&info.params))
                .unwrap_or_default();
            let mut a = cv.assignment.clone();
            if let Some((_, p)) = &prev {
                for g in &p.grids {
                    let code = GridCode::parse(&g.code).map_err(|e| StoreError::Invalid {
                        what: format!("stored grid {}", g.code),
                        why: e.to_string(),
                    })?;
                    a.previous.push(PreviousGrid {
                        code,
                        outline: g.geometry.clone(),
                        held_buildings: g.figures.buildings > 0 || g.figures.units > 0,
                    });
                }
            }
            let vp = assign_village(&ds, &a, &opts).map_err(|e| invalid(cv.explain(file, &e)))?;
            let mut params = opts.to_params();
            params["assignment"] = file.into();
            params["edited_from"] = serde_json::json!(from);
            let m = PlanMeta {
                params: params.to_string(),
                ..meta.clone()
            };
            let issues = vp.issues.iter().map(|i| i.kind.to_string()).collect();
            work.push((VillagePlanRecord::from_partition(&vp), m, issues));
        }
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let mut saved = Vec::new();
        for (rec, m, _) in &work {
            saved.push(
                self.save_in(
                    &mut tx,
                    rec,
                    m,
                    &base,
                    activate,
                    CodeRule::Named,
                    &mut |_, _| {},
                )
                .await?,
            );
        }
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        drop(conn);
        let mut out = Vec::new();
        for (s, (_, _, issues)) in saved.into_iter().zip(work) {
            let previous_active = base.0.get(&s.village).copied().flatten();
            let diff = match previous_active {
                Some(v) => Some(self.diff(&s.village, v, s.version).await?),
                None => None,
            };
            out.push(Reassigned {
                saved: s,
                activated: activate,
                previous_active,
                diff,
                issues,
            });
        }
        Ok(out)
    }
}
