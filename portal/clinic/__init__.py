"""Workspaces for staff: the registrar's verification queue, the clinician's patients and
break-glass access. (The full clinicians' workspace comes later.)"""
