//! [`claim`]: what a candidate writes for each lease it can read.

use super::*;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn held_by(holder: &str, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.to_owned()),
        lease_duration_seconds: Some(15),
        acquire_time: Some(MicroTime(at(0))),
        renew_time: Some(MicroTime(at(5))),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

const FIFTEEN: Duration = Duration::from_secs(15);

#[test]
fn no_lease_is_created_with_this_candidate_as_holder() {
    let spec = claim("me", None, false, at(10), FIFTEEN).unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("me"));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(10))));
    assert_eq!(spec.renew_time, Some(MicroTime(at(10))));
}

#[test]
fn another_holders_unexpired_lease_is_left_alone() {
    assert_eq!(
        claim("me", Some(&held_by("other", 3)), false, at(10), FIFTEEN),
        None
    );
}

#[test]
fn an_expired_lease_is_taken_over_with_one_more_transition() {
    let spec = claim("me", Some(&held_by("other", 3)), true, at(30), FIFTEEN).unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("me"));
    assert_eq!(spec.lease_transitions, Some(4));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(30))));
}

#[test]
fn a_released_lease_is_taken_at_once() {
    let mut released = held_by("", 2);
    released.holder_identity = None;
    let spec = claim("me", Some(&released), false, at(6), FIFTEEN).unwrap();
    assert_eq!(spec.lease_transitions, Some(3));
}

#[test]
fn the_leader_renews_keeping_its_acquire_time_and_transitions() {
    for expired in [false, true] {
        let spec = claim("me", Some(&held_by("me", 7)), expired, at(12), FIFTEEN).unwrap();
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(12))));
        assert_eq!(spec.lease_transitions, Some(7));
    }
}
