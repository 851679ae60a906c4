"""Engine tables. Every row carries its tenant; keys are 64-bit integers (strings in JSON)."""

from engine.models.batches import BatchOperation
from engine.models.commands import Command, Event
from engine.models.decisions import DecisionDefinition, DecisionInstance, DecisionRequirements
from engine.models.definitions import DefinitionCounts, Deployment, ProcessDefinition
from engine.models.flows import Flow, FlowTrigger, StepLog, WebhookDelivery
from engine.models.forms import Form
from engine.models.incidents import Incident
from engine.models.jobs import Job
from engine.models.keys import KeyBlock
from engine.models.retention import ProcessRetention
from engine.models.runtime import ElementInstance, ProcessInstance, Variable
from engine.models.saved_filters import SavedFilter
from engine.models.secrets import ConnectorSecret
from engine.models.user_tasks import UserTask, UserTaskCandidate
from engine.models.waits import Message, MessageSubscription, SignalSubscription, Timer
from engine.models.workers import WorkerHeartbeat

__all__ = [
    "DefinitionCounts",
    "BatchOperation",
    "Command",
    "ConnectorSecret",
    "DecisionDefinition",
    "DecisionInstance",
    "DecisionRequirements",
    "Deployment",
    "ElementInstance",
    "Event",
    "Flow",
    "FlowTrigger",
    "Form",
    "Incident",
    "Job",
    "KeyBlock",
    "Message",
    "MessageSubscription",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessRetention",
    "SavedFilter",
    "SignalSubscription",
    "Timer",
    "UserTask",
    "UserTaskCandidate",
    "Variable",
    "WorkerHeartbeat",
    "StepLog",
    "WebhookDelivery",
]
