//! Deciding when an outgoing email was really sent, so that "track on send" logs it exactly
//! once and never for a discarded, closed, minimised or undone compose.
//!
//! The page gives only hints: the Send button (or Ctrl/Cmd+Enter) was pressed; the compose
//! window went away or is still there a moment later; the same draft came back (Gmail's
//! "Undo"); a message with the draft's id appeared in a thread. The adapter feeds these
//! hints in as [`SendEvent`]s; the tracker answers with what to tell the background queue.
//! The background delays delivery by the undo window, so `Schedule` is a promise that
//! `Cancel` can still withdraw.

use std::collections::HashMap;

/// How long after Send a compose that is still on the page means the send did not happen
/// (Gmail refused it: no recipients, an invalid address, an attachment still uploading).
pub const STILL_OPEN_CHECK_MS: f64 = 2_500.0;

#[derive(Debug, Clone, PartialEq)]
pub enum SendEvent {
    /// Send was pressed in the compose holding `draft_id`, with something to track.
    SendPressed { draft_id: String, now_ms: f64 },
    /// Send was pressed in the compose holding `draft_id` with nothing to track (Track on
    /// send turned off, no contact picked).
    SendPressedUntracked { draft_id: String },
    /// The still-open check for `draft_id` ran: is the compose still on the page?
    OpenCheck { draft_id: String, still_open: bool },
    /// A compose window for `draft_id` was found on the page.
    ComposeSeen { draft_id: String },
    /// Discard or close was clicked in the compose holding `draft_id`.
    DiscardOrClose { draft_id: String },
    /// A message with these ids is on the page.
    MessageSeen { ids: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAction {
    /// Queue the tracking of `draft_id`, to be delivered after the undo window. Queued again
    /// under the same key, it replaces the request still waiting (the mail as sent last).
    Schedule { draft_id: String },
    /// Check, [`STILL_OPEN_CHECK_MS`] from now, whether the compose is still open.
    CheckOpenLater { draft_id: String },
    /// Withdraw the queued tracking.
    Cancel { draft_id: String },
    /// The message is in the thread: deliver now.
    Confirm { draft_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Send pressed; the compose has not been checked yet.
    Pressed,
    /// The compose went away after Send.
    Gone,
}

#[derive(Debug, Default)]
pub struct SendTracker {
    sends: HashMap<String, Phase>,
}

impl SendTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while `draft_id` has a send in flight.
    pub fn is_pending(&self, draft_id: &str) -> bool {
        self.sends.contains_key(draft_id)
    }

    pub fn handle(&mut self, event: SendEvent) -> Vec<SendAction> {
        match event {
            SendEvent::SendPressed {
                draft_id,
                now_ms: _,
            } => {
                // Pressed again while a send is in flight (a double click; Ctrl+Enter then a
                // click; Undo then Send again before the still-open check): scheduled again
                // under the same key, which replaces the waiting request, so the mail is
                // still logged once, as it was sent last. Every press is checked.
                self.sends.insert(draft_id.clone(), Phase::Pressed);
                vec![
                    SendAction::Schedule {
                        draft_id: draft_id.clone(),
                    },
                    SendAction::CheckOpenLater { draft_id },
                ]
            }
            SendEvent::SendPressedUntracked { draft_id } => {
                // Undo, Track on send turned off, Send again: the first send is withdrawn.
                if self.sends.remove(&draft_id).is_some() {
                    vec![SendAction::Cancel { draft_id }]
                } else {
                    vec![]
                }
            }
            SendEvent::OpenCheck {
                draft_id,
                still_open,
            } => match self.sends.get(&draft_id) {
                Some(Phase::Pressed) if still_open => {
                    self.sends.remove(&draft_id);
                    vec![SendAction::Cancel { draft_id }]
                }
                Some(Phase::Pressed) => {
                    self.sends.insert(draft_id, Phase::Gone);
                    vec![]
                }
                _ => vec![],
            },
            SendEvent::ComposeSeen { draft_id } => match self.sends.get(&draft_id) {
                // The compose came back after it had gone: Gmail's Undo.
                Some(Phase::Gone) => {
                    self.sends.remove(&draft_id);
                    vec![SendAction::Cancel { draft_id }]
                }
                _ => vec![],
            },
            SendEvent::DiscardOrClose { draft_id } => {
                if self.sends.remove(&draft_id).is_some() {
                    vec![SendAction::Cancel { draft_id }]
                } else {
                    vec![]
                }
            }
            SendEvent::MessageSeen { ids } => {
                let hit = ids
                    .iter()
                    .map(|id| id.trim_start_matches('#'))
                    .find(|id| self.sends.contains_key(*id))
                    .map(str::to_string);
                match hit {
                    Some(draft_id) => {
                        self.sends.remove(&draft_id);
                        vec![SendAction::Confirm { draft_id }]
                    }
                    None => vec![],
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SendAction::*;
    use SendEvent::*;

    fn d(s: &str) -> String {
        s.to_string()
    }

    /// A named sequence of events, each with the actions expected after it.
    type Sequence = (&'static str, Vec<(SendEvent, Vec<SendAction>)>);

    /// Each row: a sequence of events and the actions expected after each.
    #[test]
    fn send_sequences() {
        let rows: Vec<Sequence> = vec![
            (
                "send, compose goes away, message appears",
                vec![
                    (
                        SendPressed {
                            draft_id: d("msg-a:r-1"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule {
                                draft_id: d("msg-a:r-1"),
                            },
                            CheckOpenLater {
                                draft_id: d("msg-a:r-1"),
                            },
                        ],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("msg-a:r-1"),
                            still_open: false,
                        },
                        vec![],
                    ),
                    (
                        MessageSeen {
                            ids: vec![d("#msg-a:r-1")],
                        },
                        vec![Confirm {
                            draft_id: d("msg-a:r-1"),
                        }],
                    ),
                    (
                        MessageSeen {
                            ids: vec![d("msg-a:r-1")],
                        },
                        vec![],
                    ),
                ],
            ),
            (
                "double send is one send: the same key, scheduled again; the later check is moot",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 5.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                    (
                        MessageSeen { ids: vec![d("x")] },
                        vec![Confirm { draft_id: d("x") }],
                    ),
                ],
            ),
            (
                "undo then send again before the still-open check: scheduled again, delivered",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (ComposeSeen { draft_id: d("x") }, vec![]),
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 900.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                ],
            ),
            (
                "undo, tracking turned off, send again: the first send is withdrawn",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (ComposeSeen { draft_id: d("x") }, vec![]),
                    (
                        SendPressedUntracked { draft_id: d("x") },
                        vec![Cancel { draft_id: d("x") }],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                    (MessageSeen { ids: vec![d("x")] }, vec![]),
                ],
            ),
            (
                "a send without tracking and nothing in flight does nothing",
                vec![(SendPressedUntracked { draft_id: d("x") }, vec![])],
            ),
            (
                "Gmail refused the send: compose still open",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: true,
                        },
                        vec![Cancel { draft_id: d("x") }],
                    ),
                    (DiscardOrClose { draft_id: d("x") }, vec![]),
                ],
            ),
            (
                "undo brings the compose back",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                    (
                        ComposeSeen { draft_id: d("x") },
                        vec![Cancel { draft_id: d("x") }],
                    ),
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 9.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                ],
            ),
            (
                "compose seen before the check is the same window, not an undo",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (ComposeSeen { draft_id: d("x") }, vec![]),
                ],
            ),
            (
                "discard right after send withdraws it",
                vec![
                    (
                        SendPressed {
                            draft_id: d("x"),
                            now_ms: 0.0,
                        },
                        vec![
                            Schedule { draft_id: d("x") },
                            CheckOpenLater { draft_id: d("x") },
                        ],
                    ),
                    (
                        DiscardOrClose { draft_id: d("x") },
                        vec![Cancel { draft_id: d("x") }],
                    ),
                    (
                        OpenCheck {
                            draft_id: d("x"),
                            still_open: false,
                        },
                        vec![],
                    ),
                ],
            ),
            (
                "discard, close or an unrelated message without a send do nothing",
                vec![
                    (DiscardOrClose { draft_id: d("x") }, vec![]),
                    (ComposeSeen { draft_id: d("x") }, vec![]),
                    (
                        MessageSeen {
                            ids: vec![d("163d03bfda277ec1")],
                        },
                        vec![],
                    ),
                ],
            ),
        ];
        for (name, steps) in rows {
            let mut tracker = SendTracker::new();
            for (i, (event, expected)) in steps.into_iter().enumerate() {
                assert_eq!(tracker.handle(event), expected, "{name}: step {i}");
            }
        }
    }
}
