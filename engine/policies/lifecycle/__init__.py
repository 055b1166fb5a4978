"""policies/lifecycle"""
