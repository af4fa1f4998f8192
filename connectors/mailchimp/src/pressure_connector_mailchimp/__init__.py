"""pressure-sdk connector for Mailchimp: campaign reports in, suppression lists out as static segments."""
