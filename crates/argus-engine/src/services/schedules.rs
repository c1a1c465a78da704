//! The schedules service: cron schedules that start scans of a template or a config.
//!
//! Invariants: every call is scoped by `who.org`; a schedule is validated when it is stored —
//! the expression and zone (`ScheduleDef::check`), its template (of the caller's org) or its
//! config (as a scan's, [`Scans::validate_config`]) — and the scan a slot starts is validated
//! again when it is created (templates and scanners may have changed since). `next_fire_at` is
//! computed here from the clock at the write: an edit re-plans from now, keeping the fire
//! history, and a disabled schedule has none. Firing is `crate::scheduler`'s.

use chrono::Utc;

use argus_core::error::{CoreError, Result};
use argus_core::finding::Page;
use argus_core::ids::{Principal, ScheduleId};
use argus_core::schedule::{NewSchedule, Schedule, ScheduleDef, ScheduleQuery};

use super::scans::given_name;
use crate::Engine;

/// The schedules service (see the module docs); [`Engine::schedules`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Schedules<'e> {
    pub(crate) engine: &'e Engine,
}

impl Schedules<'_> {
    /// The caller's org's schedules, by name then id, one page at a time.
    pub async fn list(&self, who: &Principal, query: &ScheduleQuery) -> Result<Page<Schedule>> {
        self.engine.store().list_schedules(&who.org, query).await
    }

    /// One schedule of the caller's org.
    pub async fn get(&self, who: &Principal, id: ScheduleId) -> Result<Schedule> {
        self.engine.store().get_schedule(&who.org, id).await
    }

    /// Validates and stores a new schedule.
    pub async fn create(&self, who: &Principal, name: &str, def: ScheduleDef) -> Result<Schedule> {
        let new = self.checked(who, ScheduleId::new(), name, def).await?;
        self.engine.store().create_schedule(new).await
    }

    /// Validates and replaces a schedule (its fire history stays).
    pub async fn update(
        &self,
        who: &Principal,
        id: ScheduleId,
        name: &str,
        def: ScheduleDef,
    ) -> Result<Schedule> {
        // Existence first, so another org's id is NotFound rather than a validation error.
        self.engine.store().get_schedule(&who.org, id).await?;
        let new = self.checked(who, id, name, def).await?;
        self.engine.store().update_schedule(new).await
    }

    /// Deletes a schedule; the scans it started stay.
    pub async fn delete(&self, who: &Principal, id: ScheduleId) -> Result<()> {
        self.engine.store().delete_schedule(&who.org, id).await
    }

    async fn checked(
        &self,
        who: &Principal,
        id: ScheduleId,
        name: &str,
        def: ScheduleDef,
    ) -> Result<NewSchedule> {
        let name = given_name(name)?;
        let spec = def.check()?;
        let scans = self.engine.scans();
        match (&def.template_id, &def.config) {
            (Some(template), _) => {
                let mut config = match self.engine.store().get_template(&who.org, *template).await {
                    Ok(t) => t.config,
                    Err(CoreError::NotFound { .. }) => {
                        return Err(CoreError::invalid(
                            "/template_id",
                            format!("no template {template} in this organisation"),
                        ))
                    }
                    Err(e) => return Err(e),
                };
                if let Some(targets) = &def.targets {
                    config.targets = targets.clone();
                }
                scans.validate_config(&config).map_err(of_template)?;
            }
            (None, Some(config)) => {
                // Its errors already name `/config/…`.
                scans.validate_config(config)?;
            }
            (None, None) => {} // refused by check()
        }
        let next_fire_at = if def.enabled {
            // A new or edited schedule waits for the first slot after now.
            spec.next_after(Utc::now())
        } else {
            None
        };
        Ok(NewSchedule {
            id,
            org: who.org.clone(),
            user: who.user.clone(),
            name,
            def,
            next_fire_at,
        })
    }
}

/// An error in a template's config with the schedule's targets: the targets' own errors keep
/// their path, the rest is the template's (`/template_id`).
fn of_template(e: CoreError) -> CoreError {
    match e {
        CoreError::Invalid { path, message } => match path.strip_prefix("/config/targets") {
            Some(rest) => CoreError::Invalid {
                path: format!("/targets{rest}"),
                message,
            },
            None => CoreError::Invalid {
                path: "/template_id".into(),
                message: format!("the template's config is not valid here ({path}): {message}"),
            },
        },
        other => other,
    }
}
