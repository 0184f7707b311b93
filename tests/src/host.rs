//! Starting the real host against the fakes (being written).
