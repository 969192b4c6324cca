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
from relay.policy.images import animated_gif, image_without_alt, insecure_image, wide_images
from relay.policy.link_rules import external_link, link_shortener, link_text, logo_link
from relay.policy.message_type import marketing, off_platform, order_confirmation, thanks_only
from relay.policy.model import Rule
from relay.policy.review import (
    review_change_request,
    review_conditional,
    review_deflection,
    review_incentive,
    review_positive_only,
    review_repeat,
)
from relay.policy.safety import active_content, attachment_size, attachment_type
from relay.policy.style import (
    alignment,
    emoji,
    font_overrides,
    font_sizes,
    line_breaks,
    wide_margins,
)
from relay.policy.wording import language_mismatch, phone_number, sensitive_language

RULES: tuple[Rule, ...] = (
    # envelope and headers
    recipient_not_marketplace,
    recipient_domain_unknown,
    sender_not_approved,
    multiple_buyers,
    bulk_headers,
    subject_important_tag,
    order_id_missing,
    # review and feedback requests
    review_incentive,
    review_positive_only,
    review_conditional,
    review_deflection,
    review_change_request,
    review_repeat,
    # message type (proactive messages)
    marketing,
    off_platform,
    thanks_only,
    order_confirmation,
    # content
    tracking_pixel,
    unsubscribe_link,
    email_address,
    phone_number,
    insecure_link,
    external_link,
    link_shortener,
    logo_link,
    active_content,
    sensitive_language,
    attachment_type,
    attachment_size,
    # style
    emoji,
    animated_gif,
    insecure_image,
    image_without_alt,
    link_text,
    font_overrides,
    font_sizes,
    alignment,
    wide_margins,
    wide_images,
    line_breaks,
    # advisory
    language_mismatch,
    mime_defect,
    uninspectable,
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
