//! The merge engine: bringing finished tasks' branches home to their target branch, each
//! candidate merge tested before the target moves to it.

pub mod testing;
