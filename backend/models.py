"""Every ORM model, imported so Alembic and tests see the whole schema."""

from backend.accounts.models import Account  # noqa: F401
from backend.agent.models import ActionLog, Campaign, Coupon, KbChunk, KbDocument, Member, Order, OrderItem, Store  # noqa: F401
from backend.audit.models import AuditEvent
from backend.auth.models import LoginFailure, RefreshToken, User
from backend.contacts.models import Contact  # noqa: F401
from backend.conversations.models import ConversationNote, ConversationPolicy  # noqa: F401
from backend.core.db import Base
from backend.cost.models import Budget, BudgetAlert, ConversationRollup, DailyRollup, LedgerEntry, Price  # noqa: F401
from backend.ingest.models import InboxEntry  # noqa: F401
from backend.messages.models import Conversation, Message  # noqa: F401
from backend.organizations.models import Organization
from backend.realtime.models import RealtimeEvent
from backend.replies.models import ReplyDecision  # noqa: F401
from backend.sop.models import Sop, SopDelivery, SopStep, SopTarget  # noqa: F401

__all__ = ["AuditEvent", "Base", "LoginFailure", "Organization", "RealtimeEvent", "RefreshToken", "User"]
