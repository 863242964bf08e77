# The outbox stores the producing span's W3C traceparent. trace_id stays for now, filled by the
# database, so a process of the previous version can still write and read rows while a deploy rolls
# out; a later migration drops it.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0004_dead_letter_queue_permissions'),
    ]

    operations = [
        migrations.AddField(
            model_name='outboxmessage',
            name='traceparent',
            field=models.CharField(blank=True, db_default='', default='', max_length=55),
        ),
        migrations.AlterField(
            model_name='outboxmessage',
            name='trace_id',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
    ]
