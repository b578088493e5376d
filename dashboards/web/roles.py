"""The dashboard's roles, apart from the accounts file: the command line names them without loading SQLAlchemy."""

ROLES = ("viewer", "analyst", "officer", "admin")  # each may do what those before it may
ROLE_LABELS = {"viewer": "浏览", "analyst": "分析", "officer": "处置", "admin": "管理"}
