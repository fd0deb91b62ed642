//! Appointments in SQLite (`core::appointments`): booked in one
//! transaction that checks the kiosk and its other slots, so two bookings
//! of the same time cannot both land.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::super::StoreError;
use super::super::records::{AppointmentRow, appointment};
use super::Store;
use crate::core::appointments::{Appointment, NewAppointment, Reference};

const COLUMNS: &str = "reference, kiosk_id, service, starts_at, ends_at, agent_login, kind, booked_by, booked_at, cancelled_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppointmentRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

impl Store {
    /// Books a slot: refused when the kiosk is not enrolled or already has
    /// a slot (not cancelled) overlapping it.
    pub fn book_appointment(&self, slot: &NewAppointment, now: Timestamp) -> Result<Appointment, StoreError> {
        slot.check().map_err(StoreError::BadSlot)?;
        let (start, end) = (slot.start.as_millisecond(), slot.end().as_millisecond());
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let enrolled = tx.query_row("SELECT 1 FROM kiosks WHERE id = ?1", [slot.kiosk_id.as_str()], |_| Ok(())).optional()?;
        if enrolled.is_none() {
            return Err(StoreError::UnknownKiosk(slot.kiosk_id.to_string()));
        }
        let taken: Option<i64> = tx
            .query_row(
                "SELECT reference FROM appointments
                 WHERE kiosk_id = ?1 AND cancelled_at IS NULL AND starts_at < ?3 AND ?2 < ends_at
                 ORDER BY starts_at LIMIT 1",
                params![slot.kiosk_id.as_str(), start, end],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(taken) = taken {
            return Err(StoreError::SlotTaken { kiosk: slot.kiosk_id.to_string(), taken: Reference(taken as u64) });
        }
        tx.execute(
            "INSERT INTO appointments (kiosk_id, service, starts_at, ends_at, agent_login, kind, booked_by, booked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                slot.kiosk_id.as_str(),
                slot.service.as_str(),
                start,
                end,
                slot.agent.as_ref().map(|a| a.as_str()),
                slot.kind.as_str(),
                slot.booked_by,
                now.as_millisecond()
            ],
        )?;
        let reference = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Appointment { reference: Reference(reference as u64), slot: slot.clone(), booked_at: now, cancelled_at: None })
    }

    /// Cancels a slot; `false` if there is no such slot or it was
    /// cancelled already.
    pub fn cancel_appointment(&self, reference: Reference, now: Timestamp) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE appointments SET cancelled_at = ?2 WHERE reference = ?1 AND cancelled_at IS NULL",
            params![reference.0 as i64, now.as_millisecond()],
        )?;
        Ok(changed > 0)
    }

    /// The slots overlapping `[from, to)`, cancelled ones too, by start.
    pub fn appointments_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Appointment>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM appointments WHERE starts_at < ?2 AND ?1 < ends_at ORDER BY starts_at, reference"
        ))?;
        let rows = stmt.query_map(params![from.as_millisecond(), to.as_millisecond()], row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(appointment).collect()
    }
}
