//! Standing delegations (代理审批): a member names, ahead of time, who receives their approval tasks while
//! they are away — for every process or for some, from `starts_at` until `ends_at` (open-ended without
//! it). A task that would start for a member with an active delegation starts for their delegate instead
//! (following the delegate's own delegation in turn, never in a circle), and an automatic `redirect_task`
//! record says so. Tasks open before a delegation begins stay where they are.

use chrono::{DateTime, Utc};
use tenon_model::MemberId;

/// Hops followed from one member to the delegate who finally gets the task.
pub const DELEGATION_HOPS_MAX: usize = 8;

/// One standing delegation, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub from: MemberId,
    pub to: MemberId,
    /// Process codes it covers; `None` covers every process.
    pub processes: Option<Vec<String>>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

impl Delegation {
    /// Whether it hands `process`'s tasks on at `now`.
    pub fn covers(&self, process: &str, now: DateTime<Utc>) -> bool {
        self.starts_at <= now
            && self.ends_at.is_none_or(|end| now < end)
            && self
                .processes
                .as_ref()
                .is_none_or(|codes| codes.iter().any(|code| code == process))
    }

    /// Whether two delegations of one member could both apply to some task: their times and their
    /// processes meet.
    pub fn overlaps(&self, other: &Delegation) -> bool {
        let times = self.ends_at.is_none_or(|end| other.starts_at < end)
            && other.ends_at.is_none_or(|end| self.starts_at < end);
        let processes = match (&self.processes, &other.processes) {
            (Some(mine), Some(theirs)) => mine.iter().any(|code| theirs.contains(code)),
            _ => true,
        };
        self.from == other.from && times && processes
    }
}

/// Who gets a task of `process` meant for `member` at `now`: the member, or the end of their chain of
/// delegations (a chain that comes back to someone already on it stops before it).
pub fn delegate_of(
    delegations: &[Delegation],
    member: MemberId,
    process: &str,
    now: DateTime<Utc>,
) -> MemberId {
    let mut current = member;
    let mut seen = vec![member];
    for _ in 0..DELEGATION_HOPS_MAX {
        let next = delegations
            .iter()
            .find(|delegation| delegation.from == current && delegation.covers(process, now))
            .map(|delegation| delegation.to);
        match next {
            Some(next) if !seen.contains(&next) => {
                seen.push(next);
                current = next;
            }
            _ => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn member(n: u128) -> MemberId {
        MemberId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn delegation(
        from: u128,
        to: u128,
        processes: Option<&[&str]>,
        hours: (u32, Option<u32>),
    ) -> Delegation {
        Delegation {
            from: member(from),
            to: member(to),
            processes: processes.map(|codes| codes.iter().map(|code| (*code).to_owned()).collect()),
            starts_at: at(hours.0),
            ends_at: hours.1.map(at),
        }
    }

    #[test]
    fn a_task_goes_down_the_chain_within_the_time_and_processes_and_never_around_a_circle() {
        let rules = [
            delegation(1, 2, None, (8, Some(18))),
            delegation(2, 3, Some(&["EXPENSE"]), (8, None)),
            delegation(3, 1, None, (8, None)),
        ];
        // Before the first begins and once it ended: nobody else.
        assert_eq!(delegate_of(&rules, member(1), "EXPENSE", at(7)), member(1));
        assert_eq!(delegate_of(&rules, member(1), "EXPENSE", at(18)), member(1));
        // 1 → 2 → 3 for EXPENSE; 3 → 1 would close the circle, so 3 keeps it.
        assert_eq!(delegate_of(&rules, member(1), "EXPENSE", at(9)), member(3));
        // 2 delegates only EXPENSE: LEAVE stops at 2.
        assert_eq!(delegate_of(&rules, member(1), "LEAVE", at(9)), member(2));
        // 3 → 1 → 2: the chain from 3 stops before it comes back to 3.
        assert_eq!(delegate_of(&rules, member(3), "EXPENSE", at(9)), member(2));
        assert_eq!(delegate_of(&rules, member(4), "EXPENSE", at(9)), member(4));
    }

    #[test]
    fn delegations_of_one_member_overlap_when_their_times_and_processes_meet() {
        let all_day = delegation(1, 2, None, (8, Some(18)));
        assert!(all_day.overlaps(&delegation(1, 3, Some(&["LEAVE"]), (17, None))));
        assert!(
            !all_day.overlaps(&delegation(1, 3, None, (18, None))),
            "back to back"
        );
        assert!(
            !all_day.overlaps(&delegation(4, 3, None, (8, None))),
            "another member's"
        );
        let expense = delegation(1, 2, Some(&["EXPENSE"]), (8, None));
        assert!(!expense.overlaps(&delegation(1, 3, Some(&["LEAVE"]), (8, None))));
        assert!(expense.overlaps(&delegation(
            1,
            3,
            Some(&["LEAVE", "EXPENSE"]),
            (9, Some(10))
        )));
    }
}
