# What an administrator clicks through once in a new Redmine before the router can use it, run by
# `rails runner` when the sandbox builds its Redmine template (devkit/sandbox/redmine.py).
# Projects, users, memberships and issues are not made here: the tests and the demo make them
# through Redmine's own REST API, as a deployment's people would.

Setting.rest_api_enabled = '1'
Setting.default_language = 'en'
Setting.text_formatting = 'common_mark'
# The router adds its notes as the agent who talked (X-Redmine-Switch-User): allowed for admins.
Setting.login_required = '1'

admin = User.find_by_login!('admin')
admin.must_change_passwd = false
admin.save!
# Replaced by a fresh random key in every instance copied from the template.
Token.where(user: admin, action: 'api').delete_all
Token.create!(user: admin, action: 'api', value: 'replaced-per-instance')

# The custom fields the router reads (their names are settings: STICKY_REDMINE_*_FIELD). Filters
# must be on: the router finds a caller's issues with `cf_<id>=` queries.
{
  'Phone' => 'string',
  'Account' => 'string',
  'Customer' => 'string',
  'Customer class' => 'string',
  'Last faults' => 'text',
  'Promised by' => 'date',
}.each do |name, format|
  next if IssueCustomField.exists?(name: name)

  IssueCustomField.create!(
    name: name, field_format: format, is_filter: true, searchable: true, is_for_all: true,
    visible: true, trackers: Tracker.all
  )
end
# A field that is not a filter, as many a Redmine has: the router refuses to search by it.
unless IssueCustomField.exists?(name: 'Contract')
  IssueCustomField.create!(
    name: 'Contract', field_format: 'string', is_filter: false, is_for_all: true, visible: true,
    trackers: Tracker.all
  )
end
puts 'sticky-router: redmine template ready'
