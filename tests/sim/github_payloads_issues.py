"""JSON shapes of issues, pull requests, comments, labels, reactions and teams."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from tests.sim.github_payloads import node_id, repo_json, user_json
from tests.sim.github_state import Comment, Issue, Repo, Review, ReviewComment, SimState, iso

__all__ = [
    "PullFacts",
    "association",
    "comment_json",
    "issue_json",
    "label_json",
    "pull_json",
    "reactions_json",
    "review_comment_json",
    "review_json",
    "team_json",
]

JSON = dict[str, Any]
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


@dataclass(frozen=True, slots=True)
class PullFacts:
    """What git says about a pull request at the moment it is shown."""

    head_sha: str
    base_sha: str
    commits: int = 0
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0


def association(state: SimState, repo: Repo, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    if state.permission_of(repo, login) in ("admin", "maintain", "write", "triage"):
        return "COLLABORATOR"
    return "NONE"


def label_json(state: SimState, repo: Repo, name: str) -> JSON:
    label_id = repo.labels.setdefault(name, state.next_id())
    return {
        "id": label_id,
        "node_id": node_id("LA", label_id),
        "url": f"{state.base_url}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "description": None,
        "color": f"{zlib.crc32(name.encode()) & 0xFFFFFF:06x}",
        "default": False,
        "archived_at": None,
        "archived_by": None,
    }


def reactions_json(url: str, counts: dict[str, int]) -> JSON:
    return {
        "url": url,
        "total_count": sum(counts.get(kind, 0) for kind in REACTIONS),
        **{kind: counts.get(kind, 0) for kind in REACTIONS},
    }


def team_json(state: SimState, repo: Repo, slug: str) -> JSON:
    team_id = zlib.crc32(f"{repo.owner}/{slug}".encode()) & 0x7FFFFFFF
    url = f"{state.base_url}/organizations/{repo.owner}/team/{team_id}"
    return {
        "id": team_id,
        "node_id": node_id("T", team_id),
        "url": url,
        "html_url": f"{state.base_url}/orgs/{repo.owner}/teams/{slug}",
        "name": slug,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "push",
        "members_url": f"{url}/members{{/member}}",
        "repositories_url": f"{url}/repos",
        "type": "organization",
        "parent": None,
    }


def issue_json(state: SimState, repo: Repo, issue: Issue) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}"
    url = f"{api}/issues/{issue.number}"
    comments = [
        c
        for c in state.comments.values()
        if c.repo_id == repo.id and c.issue_number == issue.number
    ]
    data: JSON = {
        "id": issue.id,
        "node_id": node_id("PR" if issue.is_pull else "I", issue.id),
        "url": url,
        "repository_url": api,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{html}/{'pull' if issue.is_pull else 'issues'}/{issue.number}",
        "timeline_url": f"{url}/timeline",
        "number": issue.number,
        "state": issue.state,
        "state_reason": "completed" if issue.state == "closed" and not issue.is_pull else None,
        "title": issue.title,
        "body": issue.body,
        "user": user_json(state, state.user(issue.user)),
        "labels": [label_json(state, repo, name) for name in issue.labels],
        "assignee": user_json(state, state.user(issue.assignees[0])) if issue.assignees else None,
        "assignees": [user_json(state, state.user(a)) for a in issue.assignees],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": len(comments),
        "closed_at": iso(issue.closed_at) if issue.closed_at else None,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_by": None,
        "author_association": association(state, repo, issue.user),
        "reactions": reactions_json(f"{url}/reactions", issue.reactions),
        "performed_via_github_app": None,
    }
    if issue.is_pull:
        data["draft"] = issue.draft
        data["pull_request"] = {
            "url": f"{api}/pulls/{issue.number}",
            "html_url": f"{html}/pull/{issue.number}",
            "diff_url": f"{html}/pull/{issue.number}.diff",
            "patch_url": f"{html}/pull/{issue.number}.patch",
            "merged_at": iso(issue.merged_at) if issue.merged_at else None,
        }
    return data


def comment_json(state: SimState, repo: Repo, comment: Comment) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    issue = state.issues.get((repo.id, comment.issue_number))
    kind = "pull" if issue is not None and issue.is_pull else "issues"
    url = f"{api}/issues/comments/{comment.id}"
    return {
        "id": comment.id,
        "node_id": node_id("IC", comment.id),
        "url": url,
        "html_url": f"{state.base_url}/{repo.full_name}/{kind}/{comment.issue_number}"
        f"#issuecomment-{comment.id}",
        "body": comment.body,
        "user": user_json(state, state.user(comment.user)),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "issue_url": f"{api}/issues/{comment.issue_number}",
        "author_association": association(state, repo, comment.user),
        "reactions": reactions_json(f"{url}/reactions", comment.reactions),
        "performed_via_github_app": None,
    }


def _side(state: SimState, repo: Repo, ref: str, sha: str) -> JSON:
    owner = state.user(repo.owner)
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user_json(state, owner),
        "repo": repo_json(state, repo, minimal=True),
    }


def pull_json(
    state: SimState, repo: Repo, pull: Issue, facts: PullFacts, *, simple: bool = False
) -> JSON:
    """pull-request (or pull-request-simple for lists) for one pull."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}/pull/{pull.number}"
    url = f"{api}/pulls/{pull.number}"
    head_repo = state.repos.get(pull.head_repo_id or repo.id, repo)
    issue = issue_json(state, repo, pull)
    data: JSON = {
        "url": url,
        "id": pull.id,
        "node_id": issue["node_id"],
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{pull.number}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "body": pull.body,
        "user": issue["user"],
        "labels": issue["labels"],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue["closed_at"],
        "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": issue["assignee"],
        "assignees": issue["assignees"],
        "requested_reviewers": [user_json(state, state.user(u)) for u in pull.requested_reviewers],
        "requested_teams": [team_json(state, repo, t) for t in pull.requested_teams],
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{pull.number}/comments",
        "statuses_url": f"{api}/statuses/{facts.head_sha}",
        "head": _side(state, head_repo, pull.head_ref, facts.head_sha),
        "base": _side(state, repo, pull.base_ref, facts.base_sha),
        "_links": {
            name: {"href": href}
            for name, href in {
                "self": url,
                "html": html,
                "issue": f"{api}/issues/{pull.number}",
                "comments": f"{api}/issues/{pull.number}/comments",
                "review_comments": f"{url}/comments",
                "review_comment": f"{api}/pulls/comments{{/number}}",
                "commits": f"{url}/commits",
                "statuses": f"{api}/statuses/{facts.head_sha}",
            }.items()
        },
        "author_association": issue["author_association"],
        "auto_merge": None,
        "draft": pull.draft,
    }
    if simple:
        return data
    data.update(
        {
            "merged": pull.merged_at is not None,
            "mergeable": pull.state == "open",
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": user_json(state, state.user(pull.merged_by)) if pull.merged_by else None,
            "comments": issue["comments"],
            "review_comments": 0,
            "maintainer_can_modify": pull.maintainer_can_modify,
            "commits": facts.commits,
            "additions": facts.additions,
            "deletions": facts.deletions,
            "changed_files": facts.changed_files,
        }
    )
    return data


def review_comment_json(state: SimState, repo: Repo, comment: ReviewComment) -> JSON:
    """pull-request-review-comment: a comment on one line of the diff (the right side)."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}/pull/{comment.pull_number}"
    url = f"{api}/pulls/comments/{comment.id}"
    data: JSON = {
        "url": url,
        "pull_request_review_id": comment.review_id,
        "id": comment.id,
        "node_id": node_id("PRRC", comment.id),
        "diff_hunk": comment.diff_hunk,
        "path": comment.path,
        "position": comment.position,
        "original_position": comment.position,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.commit_id,
        "user": user_json(state, state.user(comment.user)),
        "body": comment.body,
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "html_url": f"{html}#discussion_r{comment.id}",
        "pull_request_url": f"{api}/pulls/{comment.pull_number}",
        "author_association": association(state, repo, comment.user),
        "_links": {
            "self": {"href": url},
            "html": {"href": f"{html}#discussion_r{comment.id}"},
            "pull_request": {"href": f"{api}/pulls/{comment.pull_number}"},
        },
        "reactions": reactions_json(f"{url}/reactions", {}),
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": comment.line,
        "original_line": comment.line,
        "side": "RIGHT",
        "subject_type": "line",
    }
    if comment.in_reply_to is not None:
        data["in_reply_to_id"] = comment.in_reply_to
    return data


def review_json(state: SimState, repo: Repo, review: Review) -> JSON:
    """pull-request-review; `submitted_at` is absent while the review is pending."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}/pull/{review.pull_number}"
    data: JSON = {
        "id": review.id,
        "node_id": node_id("PRR", review.id),
        "user": user_json(state, state.user(review.user)),
        "body": review.body,
        "state": review.state,
        "html_url": f"{html}#pullrequestreview-{review.id}",
        "pull_request_url": f"{api}/pulls/{review.pull_number}",
        "author_association": association(state, repo, review.user),
        "_links": {
            "html": {"href": f"{html}#pullrequestreview-{review.id}"},
            "pull_request": {"href": f"{api}/pulls/{review.pull_number}"},
        },
        "commit_id": review.commit_id,
    }
    if review.submitted_at is not None:
        data["submitted_at"] = iso(review.submitted_at)
    return data
