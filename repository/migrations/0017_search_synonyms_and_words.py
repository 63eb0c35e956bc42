"""Search synonyms (a curated first list of spellings searched together, editable by
editors) and the table of the words the published incidents hold, for "Did you mean …?",
filled from the incidents already published (trigram-indexed on PostgreSQL)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# Spellings of one thing that readers type either way. Terms' and entities' own variant
# spellings are their aliases; these are the words of running text the taxonomy does not name.
SYNONYMS = [
    ("Uyghur", "Uighur"),
    ("facial recognition", "face recognition"),
    ("deepfake", "deep fake"),
    ("chatbot", "chat bot"),
    ("ChatGPT", "Chat GPT"),
    ("AI", "artificial intelligence"),
    ("LLM", "large language model"),
    ("UK", "United Kingdom"),
    ("US", "USA"),
    ("US", "United States"),
    ("USA", "United States"),
    ("organisation", "organization"),
    ("behaviour", "behavior"),
    ("recognise", "recognize"),
    ("licence", "license"),
]


def fold(name):
    # documents.fold, frozen here as the keys were made.
    import unicodedata

    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    key = "".join(ch for ch in text if ch.isalnum() or ch in "+#")
    return key or " ".join(text.split())


def add_synonyms(apps, schema_editor):
    SearchSynonym = apps.get_model("repository", "SearchSynonym")
    for pair in SYNONYMS:
        (key, spelling), (other_key, other) = sorted((fold(name), name) for name in pair)
        SearchSynonym.objects.get_or_create(
            spelling=spelling, other=other, defaults={"key": key, "other_key": other_key}
        )


def remove_synonyms(apps, schema_editor):
    SearchSynonym = apps.get_model("repository", "SearchSynonym")
    for pair in SYNONYMS:
        (_, spelling), (_, other) = sorted((fold(name), name) for name in pair)
        SearchSynonym.objects.filter(spelling=spelling, other=other).delete()


def count_words(apps, schema_editor):
    from repository.search import words_refresh

    words_refresh(using=schema_editor.connection)


def create_trigram_index(apps, schema_editor):
    # Serves "Did you mean …?": the known words nearest to a misspelt one, by trigrams
    # (ORDER BY word <-> …, a walk of the GiST index). PostgreSQL only; SQLite compares a
    # bounded set of words in Python. pg_trgm comes from 0012.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS repository_searchword_trgm "
            "ON repository_searchword USING gist (word gist_trgm_ops)"
        )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS repository_searchword_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ('repository', '0016_fk_indexes_in_composites'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchWord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('word', models.CharField(max_length=40)),
                ('incidents', models.PositiveIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('word',), name='repository_searchword_unique_word')],
            },
        ),
        migrations.CreateModel(
            name='SearchSynonym',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('spelling', models.CharField(max_length=100)),
                ('other', models.CharField(max_length=100)),
                ('key', models.CharField(editable=False, max_length=100)),
                ('other_key', models.CharField(editable=False, max_length=100)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['key', 'other_key'],
                'indexes': [models.Index(fields=['key'], name='repository_searchsynonym_key'), models.Index(fields=['other_key'], name='repository_searchsynonym_other')],
                'constraints': [models.UniqueConstraint(fields=('spelling', 'other'), name='repository_searchsynonym_one_pair'), models.CheckConstraint(condition=models.Q(('key__lt', models.F('other_key')), models.Q(('key', models.F('other_key')), ('spelling__lt', models.F('other'))), _connector='OR'), name='repository_searchsynonym_ordered_distinct')],
            },
        ),
        migrations.RunPython(add_synonyms, remove_synonyms),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
        migrations.RunPython(count_words, migrations.RunPython.noop),
    ]
