//! Appointments in PostgreSQL (`core::appointments`), shared by every hub
//! process: booked in one transaction holding the table's write lock, so
//! two processes booking the same time cannot both land.

use jiff::Timestamp;
use tokio_postgres::Row;

use super::super::StoreError;
use super::super::records::appointment;
use super::PgStore;
use crate::core::appointments::{Appointment, NewAppointment, Reference};

const COLUMNS: &str = "reference, kiosk_id, service, starts_at, ends_at, agent_login, kind, booked_by, booked_at, cancelled_at";

fn from_row(r: &Row) -> Result<Appointment, StoreError> {
    appointment((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8), r.get(9)))
}

impl PgStore {
    /// Books a slot: refused when the kiosk is not enrolled or already has
    /// a slot (not cancelled) overlapping it.
    pub async fn book_appointment(&self, slot: &NewAppointment, now: Timestamp) -> Result<Appointment, StoreError> {
        slot.check().map_err(StoreError::BadSlot)?;
        let (start, end) = (slot.start.as_millisecond(), slot.end().as_millisecond());
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Bookings wait for each other (readers do not): the overlap check
        // and the insert are one step for every process.
        tx.batch_execute("LOCK TABLE appointments IN SHARE ROW EXCLUSIVE MODE").await?;
        if tx.query_opt("SELECT 1 FROM kiosks WHERE id = $1", &[&slot.kiosk_id.as_str()]).await?.is_none() {
            return Err(StoreError::UnknownKiosk(slot.kiosk_id.to_string()));
        }
        let taken = tx
            .query_opt(
                "SELECT reference FROM appointments
                 WHERE kiosk_id = $1 AND cancelled_at IS NULL AND starts_at < $3 AND $2 < ends_at
                 ORDER BY starts_at LIMIT 1",
                &[&slot.kiosk_id.as_str(), &start, &end],
            )
            .await?;
        if let Some(taken) = taken {
            return Err(StoreError::SlotTaken { kiosk: slot.kiosk_id.to_string(), taken: Reference(taken.get::<_, i64>(0) as u64) });
        }
        let row = tx
            .query_one(
                "INSERT INTO appointments (kiosk_id, service, starts_at, ends_at, agent_login, kind, booked_by, booked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING reference",
                &[
                    &slot.kiosk_id.as_str(),
                    &slot.service.as_str(),
                    &start,
                    &end,
                    &slot.agent.as_ref().map(|a| a.as_str()),
                    &slot.kind.as_str(),
                    &slot.booked_by,
                    &now.as_millisecond(),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(Appointment { reference: Reference(row.get::<_, i64>(0) as u64), slot: slot.clone(), booked_at: now, cancelled_at: None })
    }

    /// Cancels a slot; `false` if there is no such slot or it was
    /// cancelled already.
    pub async fn cancel_appointment(&self, reference: Reference, now: Timestamp) -> Result<bool, StoreError> {
        let changed = self
            .pool
            .get()
            .await?
            .execute(
                "UPDATE appointments SET cancelled_at = $2 WHERE reference = $1 AND cancelled_at IS NULL",
                &[&(reference.0 as i64), &now.as_millisecond()],
            )
            .await?;
        Ok(changed > 0)
    }

    /// The slots overlapping `[from, to)`, cancelled ones too, by start.
    pub async fn appointments_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Appointment>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(
                &format!("SELECT {COLUMNS} FROM appointments WHERE starts_at < $2 AND $1 < ends_at ORDER BY starts_at, reference"),
                &[&from.as_millisecond(), &to.as_millisecond()],
            )
            .await?;
        rows.iter().map(from_row).collect()
    }
}
