//! Reading one stored record (an [`Entity`]) from a version of its ref: the one place where
//! "the file is missing" and "the file does not parse" become [`Error::Corrupt`] naming the ref.

use super::{EntityVersion, Error, ObjectId, Result, Store};
use crate::model::{Entity, TaskId};

impl Store {
    /// The record `T` held by the version `tip` of `ref_name`, with that version; `owner` is the
    /// task the ref belongs to, which the record must name.
    pub fn read_entity<T: Entity>(
        &self,
        ref_name: &str,
        tip: ObjectId,
        owner: Option<&TaskId>,
    ) -> Result<(T, EntityVersion)> {
        let version = self.read_version(ref_name, tip)?;
        let record = entity_of::<T>(ref_name, &version, owner)?;
        Ok((record, version))
    }
}

/// The record `T` in a version already read.
pub fn entity_of<T: Entity>(ref_name: &str, version: &EntityVersion, owner: Option<&TaskId>) -> Result<T> {
    let bytes = entity_file(ref_name, version, T::FILE)?;
    T::from_blob(bytes, owner).map_err(|err| Error::Corrupt {
        ref_name: ref_name.to_owned(),
        problem: err.to_string(),
    })
}

/// The bytes of `file` in a version of the entity at `ref_name`, as stored.
pub fn entity_file<'v>(ref_name: &str, version: &'v EntityVersion, file: &str) -> Result<&'v [u8]> {
    version
        .files
        .get(file)
        .map(Vec::as_slice)
        .ok_or_else(|| Error::Corrupt {
            ref_name: ref_name.to_owned(),
            problem: format!("{file} is missing"),
        })
}
