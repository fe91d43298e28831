"""The data manager: a project's tasks in a grid with server-side filter, sort and keyset pages, one task
opened with everything about it, and bulk actions on a selection or a whole filter (the Tasks tab and
/api/v1/projects/{pid}/tasks)."""
