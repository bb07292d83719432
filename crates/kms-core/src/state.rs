//! The key-state × operation matrix of spec §5.4, as data, checked by one function.

use kms_types::KeyState;

use crate::error::CoreError;

/// Operations whose permission depends on the key state (one row of the matrix each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// DescribeKey, ListAliasesByKeyId, DeleteAlias, DescribeKeyVersion, ListKeyVersions, …
    Read,
    /// Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, CreateKeyVersion, UpdateRotationPolicy.
    UseKey,
    /// UpdateKeyDescription, TagResource, UntagResource.
    UpdateMetadata,
    /// EnableKey, DisableKey.
    EnableDisable,
    ScheduleDeletion,
    CancelDeletion,
    CreateAlias,
    ImportKeyMaterial,
    /// UpdateAlias: only the target key is checked.
    UpdateAliasTarget,
}

/// What one cell of the matrix says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Ok,
    /// `Rejected.<State>`.
    RejectedByState,
    /// `Rejected.StateModifiedFailed`.
    ModifyFailed,
}

use Cell::{ModifyFailed as F, Ok as O, RejectedByState as R};

/// Columns: Enabled, Disabled, PendingDeletion, PendingImport.
const MATRIX: &[(Operation, [Cell; 4])] = &[
    (Operation::Read, [O, O, O, O]),
    (Operation::UseKey, [O, R, R, R]),
    (Operation::UpdateMetadata, [O, O, R, O]),
    (Operation::EnableDisable, [O, O, F, F]),
    (Operation::ScheduleDeletion, [O, O, F, O]),
    (Operation::CancelDeletion, [F, F, O, F]),
    (Operation::CreateAlias, [O, O, F, O]),
    (Operation::ImportKeyMaterial, [O, O, F, O]),
    (Operation::UpdateAliasTarget, [O, O, R, O]),
];

fn column(state: KeyState) -> usize {
    match state {
        KeyState::Enabled => 0,
        KeyState::Disabled => 1,
        KeyState::PendingDeletion => 2,
        KeyState::PendingImport => 3,
    }
}

/// Whether a key in `state` may undergo `op`.
pub fn check(state: KeyState, op: Operation) -> Result<(), CoreError> {
    let row = MATRIX.iter().find(|(o, _)| *o == op).map(|(_, cells)| cells);
    match row.map(|cells| cells[column(state)]) {
        Some(Cell::Ok) => Ok(()),
        Some(Cell::RejectedByState) => Err(CoreError::InvalidState { state, op }),
        Some(Cell::ModifyFailed) => Err(CoreError::StateModificationFailed { state, op }),
        // Every operation has a row (tested below); an unknown one is refused, not allowed.
        None => Err(CoreError::StateModificationFailed { state, op }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyState::*;

    fn outcome(state: KeyState, op: Operation) -> &'static str {
        match check(state, op) {
            Ok(()) => "ok",
            Err(CoreError::InvalidState { .. }) => "rejected",
            Err(CoreError::StateModificationFailed { .. }) => "modify-failed",
            Err(e) => panic!("{e}"),
        }
    }

    /// Spec §5.4, row by row: (operation, Enabled, Disabled, PendingDeletion, PendingImport).
    #[test]
    fn matrix_matches_spec_5_4() {
        let rows = [
            (Operation::Read, ["ok", "ok", "ok", "ok"]),
            (Operation::UseKey, ["ok", "rejected", "rejected", "rejected"]),
            (Operation::UpdateMetadata, ["ok", "ok", "rejected", "ok"]),
            (Operation::EnableDisable, ["ok", "ok", "modify-failed", "modify-failed"]),
            (Operation::ScheduleDeletion, ["ok", "ok", "modify-failed", "ok"]),
            (Operation::CancelDeletion, ["modify-failed", "modify-failed", "ok", "modify-failed"]),
            (Operation::CreateAlias, ["ok", "ok", "modify-failed", "ok"]),
            (Operation::ImportKeyMaterial, ["ok", "ok", "modify-failed", "ok"]),
            (Operation::UpdateAliasTarget, ["ok", "ok", "rejected", "ok"]),
        ];
        for (op, expected) in rows {
            for (state, want) in [Enabled, Disabled, PendingDeletion, PendingImport].into_iter().zip(expected) {
                assert_eq!(outcome(state, op), want, "{op:?} on {state:?}");
            }
        }
        assert_eq!(rows.len(), MATRIX.len(), "every matrix row is tested");
    }
}
