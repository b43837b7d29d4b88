"""The drop-in platform proxy: editors' WeChat and Weibo tools publish through the desk."""
