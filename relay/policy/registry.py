"""The explicit registry: every rule the relay knows, in the order POLICY.md lists them.

Adding a rule means declaring it in its module and naming it here; nothing registers itself.
"""

from __future__ import annotations

from relay.policy.advisory import mime_defect, uninspectable
from relay.policy.content import email_address, insecure_link, tracking_pixel, unsubscribe_link
from relay.policy.envelope import (
    multiple_buyers,
    recipient_domain_unknown,
    recipient_not_marketplace,
    sender_not_approved,
)
from relay.policy.headers import bulk_headers, order_id_missing, subject_important_tag
from relay.policy.model import Rule
from relay.policy.safety import active_content, attachment_size, attachment_type
from relay.policy.style import emoji, insecure_image

RULES: tuple[Rule, ...] = (
    # envelope and headers
    recipient_not_marketplace,
    recipient_domain_unknown,
    sender_not_approved,
    multiple_buyers,
    bulk_headers,
    subject_important_tag,
    order_id_missing,
    # content
    tracking_pixel,
    unsubscribe_link,
    email_address,
    insecure_link,
    active_content,
    attachment_type,
    attachment_size,
    # style
    emoji,
    insecure_image,
    # advisory
    mime_defect,
    uninspectable,
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
