//! COPY FROM STDIN from the caller's side: data, end, abort.
//!
//! COPY TO STDOUT needs nothing here: its data arrives as `Response::CopyData` events.
//! COPY FROM STDIN runs over the simple protocol, which needs no Sync: in the extended
//! protocol a Sync sent before CopyInResponse is swallowed by the server (it ignores
//! Sync in COPY mode), and the client cannot tell whether it was.

use super::{Connection, RequestId};
use crate::error::UsageError;
use crate::message::frontend::CopyFail;
use crate::message::{CopyData, CopyDone, Message};

impl Connection {
    /// Sends a chunk of data for the COPY FROM STDIN request `id`. Chunks may split rows
    /// anywhere.
    ///
    /// # Errors
    ///
    /// [`UsageError::NotCopyingIn`] when `id` is not a COPY FROM STDIN still taking data
    /// (it may have failed on the server: its error arrives as an event);
    /// [`UsageError::Encode`] for a chunk over 1 GiB.
    pub fn copy_data(&mut self, id: RequestId, data: &[u8]) -> Result<(), UsageError> {
        self.copy_in_request(id)?;
        CopyData::encode_slice(data, self.request_buf())?;
        Ok(())
    }

    /// Ends the data of COPY FROM STDIN request `id`; the server answers with
    /// CommandComplete (rows copied) or an error.
    ///
    /// # Errors
    ///
    /// [`UsageError::NotCopyingIn`] when `id` is not a COPY FROM STDIN still taking data.
    pub fn copy_done(&mut self, id: RequestId) -> Result<(), UsageError> {
        self.copy_in_request(id)?;
        CopyDone.encode(self.request_buf())?;
        self.end_copy_in(id);
        Ok(())
    }

    /// Aborts COPY FROM STDIN request `id`: the server rolls the COPY back and answers
    /// with an error carrying `reason` (shortened if needed: the server ends the
    /// session on a CopyFail over 10 000 bytes).
    ///
    /// # Errors
    ///
    /// [`UsageError::NotCopyingIn`] when `id` is not a COPY FROM STDIN still taking data.
    pub fn copy_fail(&mut self, id: RequestId, reason: &str) -> Result<(), UsageError> {
        self.copy_in_request(id)?;
        CopyFail {
            message: reason.into(),
        }
        .encode(self.request_buf())?;
        self.end_copy_in(id);
        Ok(())
    }

    fn end_copy_in(&mut self, id: RequestId) {
        // Later requests still wait for the COPY's answer (see `copy_barrier`).
        self.pipeline.copy_closed(id);
    }
}
