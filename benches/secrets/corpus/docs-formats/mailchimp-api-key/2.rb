# frozen_string_literal: true

module Integrations
  MAILCHIMP_API_KEY = 'a5d2dd4406cba3ad8a47be38611c4457-us21'
  BASE_URL = 'https://us6.api.mailchimp.com'
end
