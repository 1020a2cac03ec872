//! Resident-memory readings from /proc.
//!
//! Emulators are often started through wrappers (`python -m`, `node`, `npx`, a
//! shell), so the honest figure is the RSS of the whole process tree: the process
//! we know the pid of plus all of its descendants.

use std::collections::HashMap;
use std::fs;

/// VmRSS of one process in KiB, or `None` if it has exited.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss(&status)
}

fn parse_vmrss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Parent pid from the text of /proc/<pid>/stat. The command name is wrapped in
/// parentheses and may itself contain spaces or parentheses, so parse after the
/// last ')'.
fn parse_ppid(stat: &str) -> Option<u32> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields after the name: state, ppid, ...
    after.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` followed by all of its live descendants.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .as_deref()
                .and_then(parse_ppid)
            {
                children.entry(ppid).or_default().push(child);
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        if let Some(kids) = children.get(&tree[i]) {
            tree.extend(kids);
        }
        i += 1;
    }
    tree
}

/// Sum of VmRSS over `pid` and its descendants, in KiB.
pub fn tree_rss_kib(pid: u32) -> u64 {
    process_tree(pid).into_iter().filter_map(rss_kib).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status = "Name:\tx\nVmPeak:\t 10 kB\nVmRSS:\t    1234 kB\n";
        assert_eq!(parse_vmrss(status), Some(1234));
        assert_eq!(parse_ppid("42 (we ird) name)) S 7 42 42 0"), Some(7));
    }

    #[test]
    fn own_process_is_measurable() {
        let me = std::process::id();
        assert!(rss_kib(me).is_some_and(|k| k > 0));
        // Other test threads allocate meanwhile, so the two readings are not
        // comparable; the tree's sum must at least count this process.
        assert!(tree_rss_kib(me) > 0);
        assert_eq!(process_tree(me)[0], me);
    }
}
