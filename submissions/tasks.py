"""Background work of the submissions app. Each task takes ids, calls one service, and may
run twice without harm."""

import smtplib

from celery import shared_task

from . import duplicates, notifications, services, variants

NETWORK_ERRORS = (smtplib.SMTPException, OSError, ConnectionError, TimeoutError)


@shared_task(
    autoretry_for=NETWORK_ERRORS, retry_backoff=30, retry_backoff_max=1800, retry_jitter=True, max_retries=8
)
def send_notification(notification_id):
    return notifications.notification_send(notification_id=notification_id)


@shared_task
def requeue_notifications():
    return notifications.notifications_requeue()


@shared_task
def send_digests():
    return len(notifications.digests_create())


@shared_task
def scrub_personal_data():
    return notifications.personal_data_scrub()


@shared_task
def expire_needs_changes():
    """Proposals sent back for changes and not revised within NEEDS_CHANGES_EXPIRE_DAYS."""
    return services.submissions_expire_changes()


@shared_task
def duplicates_find(incident_ids=None):
    """Propose merges for the pairs these incidents (None: all) form; a pair is proposed once."""
    return duplicates.duplicates_find(incident_ids=incident_ids).proposed


@shared_task(autoretry_for=NETWORK_ERRORS, retry_backoff=30, max_retries=3)
def send_password_reset(user_id):
    return notifications.password_reset_send(user_id=user_id)


@shared_task
def variants_refresh(scope):
    """Work out the taxonomy desk's probable variants of one vocabulary or kind of entity."""
    return len(variants.variants_compute(scope)["clusters"])
